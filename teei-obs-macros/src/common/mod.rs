//! What the three macros share: the error list, "specified once" options, list parsing,
//! numeric and duration literals, and the model of the annotated function.

mod function;

pub(crate) use function::{Function, expand_fn};

use proc_macro2::{Span, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, Lit, LitStr, Token};

/// Collects errors; `finish` turns them into one combined `syn::Error`.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push_error(syn::Error::new(span, message));
    }

    /// An error spanning all of `tokens`, e.g. `-0.5` or `extern "C"` rather than its
    /// first token.
    pub(crate) fn push_spanned(
        &mut self,
        tokens: impl quote::ToTokens,
        message: impl std::fmt::Display,
    ) {
        self.push_error(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn push_error(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Records the first occurrence of an option; a second is an error on its keyword.
pub(crate) fn once<T>(
    macro_name: &str,
    slot: &mut Option<T>,
    value: T,
    span: Span,
    option: &str,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.push(
            span,
            format!("#[{macro_name}] option `{option}` specified more than once"),
        );
    } else {
        *slot = Some(value);
    }
}

/// Parses `arg, arg, …` (a trailing comma allowed) with `arg`.
pub(crate) fn parse_list<T>(
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

/// Skips an unknown option's tokens up to the next `,`, so the rest is still checked.
pub(crate) fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// `option = "…"` for `#[macro_name]`: the keyword and the string literal.
pub(crate) fn string_option<K: Parse>(
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

/// A non-negative numeric literal's value.
pub(crate) fn literal_number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Float(lit),
            ..
        }) => lit.base10_parse::<f64>().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_parse::<u64>().ok().map(|v| v as f64),
        _ => None,
    }
}

/// Parses `250ms`, `2s`, `1m`, `1h`, or a sum such as `1m30s`, into milliseconds.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else {
            return None;
        };
        total = total.checked_add(number.checked_mul(unit)?)?;
        rest = &rest[len..];
    }
    Some(total)
}

/// `"a", "b", …`: the accepted values of an option, for messages.
pub(crate) fn quoted_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|name| format!("{name:?}")).collect();
    names.join(", ")
}
