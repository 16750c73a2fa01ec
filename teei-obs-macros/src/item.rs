//! The function model shared by the macros: what was annotated.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Item, ItemFn};

/// Parses the annotated item, which must be a function with a body.
pub(crate) fn parse_fn(macro_name: &str, item: TokenStream) -> syn::Result<ItemFn> {
    let item: Item = syn::parse2(item)?;
    let not_a_fn = |span: proc_macro2::Span, what: &str| {
        syn::Error::new(
            span,
            format!("#[{macro_name}] can only be applied to functions, not to {what}"),
        )
    };
    match item {
        Item::Fn(function) => Ok(function),
        Item::Struct(item) => Err(not_a_fn(item.struct_token.span, "a struct")),
        Item::Enum(item) => Err(not_a_fn(item.enum_token.span, "an enum")),
        Item::Union(item) => Err(not_a_fn(item.union_token.span, "a union")),
        Item::Impl(item) => Err(not_a_fn(
            item.impl_token.span,
            "an impl block; annotate its methods",
        )),
        Item::Trait(item) => Err(not_a_fn(item.trait_token.span, "a trait")),
        Item::Mod(item) => Err(not_a_fn(item.mod_token.span, "a module")),
        Item::Static(item) => Err(not_a_fn(item.static_token.span, "a static")),
        Item::Const(item) => Err(not_a_fn(item.const_token.span, "a const")),
        Item::Type(item) => Err(not_a_fn(item.type_token.span, "a type alias")),
        Item::Use(item) => Err(not_a_fn(item.use_token.span, "a use declaration")),
        Item::Verbatim(tokens) => Err(syn::Error::new(
            tokens.span(),
            format!("#[{macro_name}] needs a function with a body"),
        )),
        other => Err(not_a_fn(other.span(), "this item")),
    }
}
