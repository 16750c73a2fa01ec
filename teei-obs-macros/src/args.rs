//! Parsing of macro arguments: syntax only, every problem of meaning is `valid.rs`'s.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token, bracketed, token};

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

/// Parses `arg, arg, …` (a trailing comma allowed) with `arg`.
fn parse_list<T>(
    input: ParseStream<'_>,
    arg: impl Fn(ParseStream<'_>) -> syn::Result<T>,
) -> syn::Result<Vec<T>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        args.push(arg(input)?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

pub(crate) mod traced_kw {
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
    Name(traced_kw::name, LitStr),
    Level(traced_kw::level, LitStr),
    Skip(traced_kw::skip, Punctuated<Ident, Token![,]>),
    SkipAll(traced_kw::skip_all),
    Fields(traced_kw::fields, TokenStream),
    Err(traced_kw::err, Option<(Ident, Format)>),
    Ret(traced_kw::ret, Option<(Ident, Format)>),
    Kind(traced_kw::kind, LitStr),
    Unknown(Ident),
}

/// The argument list of `#[traced(...)]`.
pub(crate) struct TracedArgs(pub(crate) Vec<TracedArg>);

/// `option = "…"` for `#[macro_name]`: the keyword and the string literal.
fn string_option<K: Parse>(
    input: ParseStream<'_>,
    macro_name: &str,
    option: &str,
    example: &str,
) -> syn::Result<(K, LitStr)> {
    let keyword = input.parse()?;
    input.parse::<Token![=]>()?;
    if !input.peek(LitStr) {
        return Err(input.error(format!(
            "#[{macro_name}] `{option}` takes a string literal, e.g. `{option} = {example}`"
        )));
    }
    Ok((keyword, input.parse()?))
}

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
            let arg = if lookahead.peek(traced_kw::name) {
                let (keyword, value) = string_option(input, "traced", "name", "\"checkout\"")?;
                TracedArg::Name(keyword, value)
            } else if lookahead.peek(traced_kw::level) {
                let (keyword, value) = string_option(input, "traced", "level", "\"debug\"")?;
                TracedArg::Level(keyword, value)
            } else if lookahead.peek(traced_kw::kind) {
                let (keyword, value) = string_option(input, "traced", "kind", "\"client\"")?;
                TracedArg::Kind(keyword, value)
            } else if lookahead.peek(traced_kw::skip_all) {
                TracedArg::SkipAll(input.parse()?)
            } else if lookahead.peek(traced_kw::skip) {
                let keyword = input.parse()?;
                let content;
                syn::parenthesized!(content in input);
                TracedArg::Skip(
                    keyword,
                    content.parse_terminated(Ident::parse_any, Token![,])?,
                )
            } else if lookahead.peek(traced_kw::fields) {
                let keyword = input.parse()?;
                let content;
                syn::parenthesized!(content in input);
                TracedArg::Fields(keyword, content.parse()?)
            } else if lookahead.peek(traced_kw::err) {
                let keyword = input.parse()?;
                TracedArg::Err(keyword, format_arg(input)?)
            } else if lookahead.peek(traced_kw::ret) {
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

pub(crate) mod health_kw {
    syn::custom_keyword!(kind);
    syn::custom_keyword!(name);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(interval);
    syn::custom_keyword!(critical);
    syn::custom_keyword!(probes);
}

pub(crate) const HEALTH_OPTIONS: &str =
    "`kind`, `name`, `timeout`, `interval`, `critical`, `probes`";

/// One argument of `#[health_check(...)]`, as written.
pub(crate) enum HealthArg {
    Kind(health_kw::kind, LitStr),
    Name(health_kw::name, LitStr),
    Timeout(health_kw::timeout, LitStr),
    Interval(health_kw::interval, LitStr),
    Critical(health_kw::critical, syn::LitBool),
    Probes(health_kw::probes, Punctuated<Ident, Token![,]>),
    Unknown(Ident),
}

/// The argument list of `#[health_check(...)]`.
pub(crate) struct HealthArgs(pub(crate) Vec<HealthArg>);

impl Parse for HealthArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let args = parse_list(input, |input| {
            let lookahead = input.lookahead1();
            let arg = if lookahead.peek(health_kw::kind) {
                let (keyword, value) = string_option(input, "health_check", "kind", "\"db\"")?;
                HealthArg::Kind(keyword, value)
            } else if lookahead.peek(health_kw::name) {
                let (keyword, value) =
                    string_option(input, "health_check", "name", "\"postgres\"")?;
                HealthArg::Name(keyword, value)
            } else if lookahead.peek(health_kw::timeout) {
                let (keyword, value) = string_option(input, "health_check", "timeout", "\"2s\"")?;
                HealthArg::Timeout(keyword, value)
            } else if lookahead.peek(health_kw::interval) {
                let (keyword, value) = string_option(input, "health_check", "interval", "\"10s\"")?;
                HealthArg::Interval(keyword, value)
            } else if lookahead.peek(health_kw::critical) {
                let keyword = input.parse()?;
                input.parse::<Token![=]>()?;
                if !input.peek(syn::LitBool) {
                    return Err(input.error("#[health_check] `critical` takes `true` or `false`"));
                }
                HealthArg::Critical(keyword, input.parse()?)
            } else if lookahead.peek(health_kw::probes) {
                let keyword = input.parse()?;
                let content;
                syn::parenthesized!(content in input);
                HealthArg::Probes(keyword, content.parse_terminated(Ident::parse, Token![,])?)
            } else if input.peek(Ident) {
                let ident = input.parse()?;
                skip_to_comma(input)?;
                HealthArg::Unknown(ident)
            } else {
                return Err(lookahead.error());
            };
            Ok(arg)
        })?;
        Ok(HealthArgs(args))
    }
}
