//! Procedural macros of teei-obs. Depend on `teei-obs`, which re-exports them with their
//! documentation; the code they generate names `teei_obs` only.

use proc_macro::TokenStream;

mod common;
mod counted;
mod health_check;
mod traced;

/// Counts the calls of a function by result; see `teei_obs::counted` for the documentation.
#[proc_macro_attribute]
pub fn counted(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(args, item, counted::expand)
}

/// Wraps a function in a `tracing` span exported to OpenTelemetry; see `teei_obs::traced`.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(args, item, traced::expand)
}

/// Registers an `async fn` as a dependency health check; see `teei_obs::health_check`.
#[proc_macro_attribute]
pub fn health_check(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(args, item, health_check::expand)
}

/// The one funnel from a macro's `syn::Result` to tokens. On error the original item is
/// still emitted, next to the errors, so the user sees the macro's errors and not a
/// cascade of "cannot find function" errors elsewhere.
fn expand_with(
    args: TokenStream,
    item: TokenStream,
    expand: fn(
        proc_macro2::TokenStream,
        proc_macro2::TokenStream,
    ) -> syn::Result<proc_macro2::TokenStream>,
) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand(args.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let errors = error.to_compile_error();
            quote::quote!(#item #errors).into()
        }
    }
}
