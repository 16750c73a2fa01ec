//! `#[health_check]`: its arguments (`args.rs`), their rules (`rules.rs`) and the
//! expansion.

mod args;
mod rules;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use crate::common::{Function, expand_fn};
use args::HealthArgs;
use rules::{HealthOptions, check_health_fn, health_options};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    expand_fn::<HealthArgs, _>(
        "health_check",
        args,
        item,
        health_options,
        check_health_fn,
        wrap,
    )
}

fn wrap(function: ItemFn, options: HealthOptions) -> TokenStream {
    let function = Function::new(function);
    let sig = &function.sig;
    let ident = &sig.ident;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| syn::ext::IdentExt::unraw(ident).to_string());
    let kind = format_ident!("{}", options.kind);
    let timeout = options.timeout_ms;
    let interval = options.interval_ms;
    let critical = options.critical;
    let probes = options.probes;
    let line = quote_spanned!(ident.span()=> ::core::line!());

    let mut fetches = Vec::new();
    let mut args = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let syn::FnArg::Typed(typed) = input else {
            continue;
        };
        let local = format_ident!("__teei_state_{}", index);
        let (ty, arg) = match &*typed.ty {
            syn::Type::Reference(reference) => (&*reference.elem, quote!(&*#local)),
            owned => (owned, quote!(::core::clone::Clone::clone(&*#local))),
        };
        fetches.push(quote_spanned! {typed.ty.span()=>
            let #local = ::teei_obs::__private::state::<#ty>(__teei_state)?;
        });
        args.push(arg);
    }
    let block = &function.block;
    // A returned error type that is not `Display` is reported on the return type.
    let output_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => ident.span(),
    };
    let outcome = quote_spanned! {output_span=>
        ::teei_obs::__private::IntoOutcome::into_outcome(#ident(#(#args),*).await)
    };
    // The registration sits beside the function, in an anonymous `const` block, not in its
    // body: there a parameter named like the function would shadow the function itself.
    let registration = quote! {
        #[doc(hidden)]
        const _: () = {
            #[::teei_obs::__private::linkme::distributed_slice(::teei_obs::__private::TEEI_OBS_HEALTH_CHECKS)]
            #[linkme(crate = ::teei_obs::__private::linkme)]
            #[allow(unsafe_code)]
            static __TEEI_CHECK: ::teei_obs::__private::CheckEntry = ::teei_obs::__private::CheckEntry::new(
                #name,
                ::teei_obs::__private::Kind::#kind,
                ::core::time::Duration::from_millis(#timeout),
                ::core::time::Duration::from_millis(#interval),
                #critical,
                #probes,
                ::core::file!(),
                #line,
                __teei_invoke,
            );
            fn __teei_invoke(
                __teei_state: &::teei_obs::__private::State,
            ) -> ::core::result::Result<::teei_obs::__private::CheckFuture, ::teei_obs::__private::Missing> {
                #(#fetches)*
                ::core::result::Result::Ok(::teei_obs::__private::check_future(async move {
                    #outcome
                }))
            }
        };
    };
    let block = quote!(#block);
    let function = function.assemble(block);
    quote!(#function #registration)
}
