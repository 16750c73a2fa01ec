//! The function model shared by the macros: what was annotated, and how its body is
//! wrapped.

use super::Errors;
use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, Block, Item, ItemFn, ReturnType, Signature, Type, Visibility};

/// The flow every macro shares: parse the arguments and the function, collect every
/// problem of both, and only then expand.
pub(crate) fn expand_fn<A: syn::parse::Parse, O>(
    macro_name: &str,
    args: TokenStream,
    item: TokenStream,
    options: fn(A, &mut Errors) -> O,
    check: fn(&O, &ItemFn, &mut Errors),
    wrap: fn(ItemFn, O) -> TokenStream,
) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let options = match syn::parse2::<A>(args) {
        Ok(args) => Some(options(args, &mut errors)),
        Err(error) => {
            errors.push_error(error);
            None
        }
    };
    let function = match parse_fn(macro_name, item) {
        Ok(function) => function,
        Err(error) => {
            errors.push_error(error);
            return Err(errors.finish().expect_err("an error was pushed"));
        }
    };
    check_fn(macro_name, &function, &mut errors);
    if let Some(options) = &options {
        check(options, &function, &mut errors);
    }
    errors.finish()?;
    Ok(wrap(
        function,
        options.expect("arguments parsed when there is no error"),
    ))
}

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

/// An annotated function taken apart.
pub(crate) struct Function {
    /// Outer attributes, other macros included: they expand after this one.
    pub(crate) attrs: Vec<Attribute>,
    /// Inner attributes (`#![allow(..)]` in the body): they keep covering the whole body.
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) block: Box<Block>,
}

impl Function {
    pub(crate) fn new(function: ItemFn) -> Self {
        let ItemFn {
            attrs,
            vis,
            sig,
            block,
            ..
        } = function;
        let (inner_attrs, attrs) = attrs
            .into_iter()
            .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
        Function {
            attrs,
            inner_attrs,
            vis,
            sig,
            block,
        }
    }

    /// Whether the function returns `!`.
    pub(crate) fn diverges(&self) -> bool {
        matches!(&self.sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)))
    }

    /// `: T` for a `let` holding the returned value, when `T` can be written there.
    pub(crate) fn return_annotation(&self) -> TokenStream {
        match &self.sig.output {
            ReturnType::Default => quote!(: ()),
            ReturnType::Type(_, ty) if !mentions_impl(ty.to_token_stream()) => quote!(: #ty),
            ReturnType::Type(..) => quote!(),
        }
    }

    /// The user's body as a value: an immediately called closure, or for `async fn` an
    /// `async move` block to be awaited. The body keeps its own spans, so errors in it
    /// point at the user's lines.
    pub(crate) fn body_expr(&self) -> TokenStream {
        let block = &self.block;
        if self.sig.asyncness.is_some() {
            quote!(async move #block)
        } else {
            quote!((move || #block)())
        }
    }

    /// The function again, with `body` as its body.
    pub(crate) fn assemble(self, body: TokenStream) -> TokenStream {
        let Function {
            attrs,
            inner_attrs,
            vis,
            sig,
            block,
        } = self;
        // The new body takes the braces of the user's: a function whose span comes from a
        // macro is exempt from `dead_code`, and an unused annotated function must still warn.
        let mut body = Group::new(Delimiter::Brace, quote!(#(#inner_attrs)* #body));
        body.set_span(block.brace_token.span.join());
        quote! {
            #(#attrs)*
            #vis #sig #body
        }
    }
}

/// Whether a type names `impl Trait`, which a `let` cannot be annotated with.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

/// Rejects function shapes the macros cannot wrap.
fn check_fn(macro_name: &str, function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        errors.push(
            constness.span,
            format!(
                "#[{macro_name}] cannot be applied to a `const fn`: it can run at compile time, where nothing is observed"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push_spanned(
            abi,
            format!(
                "#[{macro_name}] cannot be applied to an `extern` function: a panic cannot \
                 unwind through it to be observed"
            ),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.push_spanned(
            variadic,
            format!("#[{macro_name}] cannot be applied to a variadic function"),
        );
    }
}
