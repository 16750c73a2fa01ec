//! The syntax of `#[traced(...)]`; what it means is `rules.rs`'s.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token};

use crate::common::{parse_list, skip_to_comma, string_option};

pub(crate) mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(level);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(skip_all);
    syn::custom_keyword!(fields);
    syn::custom_keyword!(err);
    syn::custom_keyword!(ret);
    syn::custom_keyword!(kind);
}

pub(crate) const TRACED_OPTIONS: &str =
    "`name`, `level`, `skip`, `skip_all`, `fields`, `err`, `ret`, `kind`";

/// How a value is formatted into the span: `Display` or `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Display,
    Debug,
}

/// One argument of `#[traced(...)]`, as written.
pub(crate) enum TracedArg {
    Name(kw::name, LitStr),
    Level(kw::level, LitStr),
    Skip(kw::skip, Punctuated<Ident, Token![,]>),
    SkipAll(kw::skip_all),
    Fields(kw::fields, TokenStream),
    Err(kw::err, Option<(Ident, Format)>),
    Ret(kw::ret, Option<(Ident, Format)>),
    Kind(kw::kind, LitStr),
    Unknown(Ident),
}

/// The argument list of `#[traced(...)]`.
pub(crate) struct TracedArgs(pub(crate) Vec<TracedArg>);

fn format_arg(input: ParseStream<'_>) -> syn::Result<Option<(Ident, Format)>> {
    if !input.peek(syn::token::Paren) {
        return Ok(None);
    }
    let content;
    syn::parenthesized!(content in input);
    let ident: Ident = content.parse()?;
    let format = match ident.to_string().as_str() {
        "Display" => Format::Display,
        "Debug" => Format::Debug,
        _ => {
            return Err(syn::Error::new(
                ident.span(),
                "#[traced] expected `Display` or `Debug` here",
            ));
        }
    };
    Ok(Some((ident, format)))
}

impl Parse for TracedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let args = parse_list(input, |input| {
            let lookahead = input.lookahead1();
            let arg = if lookahead.peek(kw::name) {
                let (keyword, value) = string_option(input, "traced", "name", "\"checkout\"")?;
                TracedArg::Name(keyword, value)
            } else if lookahead.peek(kw::level) {
                let (keyword, value) = string_option(input, "traced", "level", "\"debug\"")?;
                TracedArg::Level(keyword, value)
            } else if lookahead.peek(kw::kind) {
                let (keyword, value) = string_option(input, "traced", "kind", "\"client\"")?;
                TracedArg::Kind(keyword, value)
            } else if lookahead.peek(kw::skip_all) {
                TracedArg::SkipAll(input.parse()?)
            } else if lookahead.peek(kw::skip) {
                let keyword = input.parse()?;
                let content;
                syn::parenthesized!(content in input);
                TracedArg::Skip(
                    keyword,
                    content.parse_terminated(Ident::parse_any, Token![,])?,
                )
            } else if lookahead.peek(kw::fields) {
                let keyword = input.parse()?;
                let content;
                syn::parenthesized!(content in input);
                TracedArg::Fields(keyword, content.parse()?)
            } else if lookahead.peek(kw::err) {
                let keyword = input.parse()?;
                TracedArg::Err(keyword, format_arg(input)?)
            } else if lookahead.peek(kw::ret) {
                let keyword = input.parse()?;
                TracedArg::Ret(keyword, format_arg(input)?)
            } else if input.peek(Ident) {
                let ident = input.parse()?;
                skip_to_comma(input)?;
                TracedArg::Unknown(ident)
            } else {
                return Err(lookahead.error());
            };
            Ok(arg)
        })?;
        Ok(TracedArgs(args))
    }
}
