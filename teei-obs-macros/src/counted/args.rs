//! The syntax of `#[counted(...)]`; what it means is `rules.rs`'s.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token, bracketed, token};

use crate::common::{parse_list, skip_to_comma};

pub(crate) mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(duration);
    syn::custom_keyword!(concurrent);
    syn::custom_keyword!(buckets);
    syn::custom_keyword!(objective);
}

/// One `key = value` inside `objective(..)`.
pub(crate) struct ObjectiveItem {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

impl Parse for ObjectiveItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = Ident::parse_any(input)?;
        input.parse::<Token![=]>()?;
        Ok(ObjectiveItem {
            key,
            value: input.parse()?,
        })
    }
}

/// One argument of `#[counted(...)]`, as written.
pub(crate) enum CountedArg {
    Name(kw::name, LitStr),
    Duration(kw::duration),
    Concurrent(kw::concurrent),
    Buckets {
        keyword: kw::buckets,
        bracket: Span,
        bounds: Punctuated<Expr, Token![,]>,
    },
    Objective {
        keyword: kw::objective,
        paren: Span,
        items: Punctuated<ObjectiveItem, Token![,]>,
    },
    /// An argument no option is called; its tokens up to the next `,` are skipped so the
    /// rest of the list is still checked.
    Unknown(Ident),
}

pub(crate) const COUNTED_OPTIONS: &str = "`name`, `duration`, `concurrent`, `buckets`, `objective`";

/// The argument list of `#[counted(...)]`.
pub(crate) struct CountedArgs(pub(crate) Vec<CountedArg>);

impl Parse for CountedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let args = parse_list(input, |input| {
            let lookahead = input.lookahead1();
            let arg = if lookahead.peek(kw::name) {
                let keyword = input.parse()?;
                input.parse::<Token![=]>()?;
                if !input.peek(LitStr) {
                    return Err(input.error(
                        "#[counted] `name` takes a string literal, e.g. `name = \"Cart::add\"`",
                    ));
                }
                CountedArg::Name(keyword, input.parse()?)
            } else if lookahead.peek(kw::duration) {
                CountedArg::Duration(input.parse()?)
            } else if lookahead.peek(kw::concurrent) {
                CountedArg::Concurrent(input.parse()?)
            } else if lookahead.peek(kw::buckets) {
                let keyword = input.parse()?;
                input.parse::<Token![=]>()?;
                if !input.peek(token::Bracket) {
                    return Err(input.error(
                        "#[counted] `buckets` takes a list in square brackets, e.g. \
                         `buckets = [0.01, 0.1, 1]`",
                    ));
                }
                let content;
                let bracket = bracketed!(content in input);
                CountedArg::Buckets {
                    keyword,
                    bracket: bracket.span.join(),
                    bounds: content.parse_terminated(Expr::parse, Token![,])?,
                }
            } else if lookahead.peek(kw::objective) {
                let keyword = input.parse()?;
                if !input.peek(token::Paren) {
                    return Err(input.error(
                        "#[counted] `objective` takes a list in parentheses, e.g. \
                         `objective(success = 99.9, latency = 0.25, within = 99)`",
                    ));
                }
                let content;
                let paren = syn::parenthesized!(content in input);
                CountedArg::Objective {
                    keyword,
                    paren: paren.span.join(),
                    items: content.parse_terminated(ObjectiveItem::parse, Token![,])?,
                }
            } else if input.peek(Ident) {
                let ident = input.parse()?;
                skip_to_comma(input)?;
                CountedArg::Unknown(ident)
            } else {
                return Err(lookahead.error());
            };
            Ok(arg)
        })?;
        Ok(CountedArgs(args))
    }
}
