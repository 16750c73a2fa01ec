//! Parsing of macro arguments: syntax only, every problem of meaning is `valid.rs`'s.

use proc_macro2::{Span, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token, bracketed, token};

pub(crate) mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(duration);
    syn::custom_keyword!(concurrent);
    syn::custom_keyword!(buckets);
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
    /// An argument no option is called; its tokens up to the next `,` are skipped so the
    /// rest of the list is still checked.
    Unknown(Ident),
}

pub(crate) const COUNTED_OPTIONS: &str = "`name`, `duration`, `concurrent`, `buckets`";

/// The argument list of `#[counted(...)]`.
pub(crate) struct CountedArgs(pub(crate) Vec<CountedArg>);

impl Parse for CountedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Vec::new();
        while !input.is_empty() {
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
            } else if input.peek(Ident) {
                let ident = input.parse()?;
                skip_to_comma(input)?;
                CountedArg::Unknown(ident)
            } else {
                return Err(lookahead.error());
            };
            args.push(arg);
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(CountedArgs(args))
    }
}

fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}
