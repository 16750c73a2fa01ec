//! The syntax of `#[health_check(...)]`; what it means is `rules.rs`'s.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token};

use crate::common::{parse_list, skip_to_comma, string_option};

pub(crate) mod kw {
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
    Kind(kw::kind, LitStr),
    Name(kw::name, LitStr),
    Timeout(kw::timeout, LitStr),
    Interval(kw::interval, LitStr),
    Critical(kw::critical, syn::LitBool),
    Probes(kw::probes, Punctuated<Ident, Token![,]>),
    Unknown(Ident),
}

/// The argument list of `#[health_check(...)]`.
pub(crate) struct HealthArgs(pub(crate) Vec<HealthArg>);

impl Parse for HealthArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let args = parse_list(input, |input| {
            let lookahead = input.lookahead1();
            let arg = if lookahead.peek(kw::kind) {
                let (keyword, value) = string_option(input, "health_check", "kind", "\"db\"")?;
                HealthArg::Kind(keyword, value)
            } else if lookahead.peek(kw::name) {
                let (keyword, value) =
                    string_option(input, "health_check", "name", "\"postgres\"")?;
                HealthArg::Name(keyword, value)
            } else if lookahead.peek(kw::timeout) {
                let (keyword, value) = string_option(input, "health_check", "timeout", "\"2s\"")?;
                HealthArg::Timeout(keyword, value)
            } else if lookahead.peek(kw::interval) {
                let (keyword, value) = string_option(input, "health_check", "interval", "\"10s\"")?;
                HealthArg::Interval(keyword, value)
            } else if lookahead.peek(kw::critical) {
                let keyword = input.parse()?;
                input.parse::<Token![=]>()?;
                if !input.peek(syn::LitBool) {
                    return Err(input.error("#[health_check] `critical` takes `true` or `false`"));
                }
                HealthArg::Critical(keyword, input.parse()?)
            } else if lookahead.peek(kw::probes) {
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
