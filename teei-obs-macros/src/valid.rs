//! The rules of meaning: what parses but cannot be accepted. Every check adds to one
//! error list, so a user sees all the problems of an item in one build.

use proc_macro2::Span;
use syn::{Expr, ExprLit, ItemFn, Lit, LitStr, UnOp};

use crate::args::{COUNTED_OPTIONS, CountedArg, CountedArgs};

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
fn once<T>(slot: &mut Option<T>, value: T, span: Span, option: &str, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(
            span,
            format!("#[counted] option `{option}` specified more than once"),
        );
    } else {
        *slot = Some(value);
    }
}

/// The checked options of `#[counted]`.
pub(crate) struct CountedOptions {
    pub(crate) name: Option<String>,
    pub(crate) duration: bool,
    pub(crate) concurrent: bool,
    /// Upper bounds in seconds, when given.
    pub(crate) buckets: Option<Vec<f64>>,
}

pub(crate) const MAX_NAME_LEN: usize = 128;

pub(crate) fn counted_options(args: CountedArgs, errors: &mut Errors) -> CountedOptions {
    let mut name = None;
    let mut duration = None;
    let mut concurrent = None;
    let mut buckets = None;
    for arg in args.0 {
        match arg {
            CountedArg::Name(keyword, value) => {
                once(&mut name, value, keyword.span, "name", errors);
            }
            CountedArg::Duration(keyword) => {
                once(&mut duration, (), keyword.span, "duration", errors);
            }
            CountedArg::Concurrent(keyword) => {
                once(&mut concurrent, (), keyword.span, "concurrent", errors);
            }
            CountedArg::Buckets {
                keyword,
                bracket,
                bounds,
            } => {
                let parsed = bucket_bounds(bracket, bounds.iter(), errors);
                once(&mut buckets, parsed, keyword.span, "buckets", errors);
            }
            CountedArg::Unknown(ident) => errors.push(
                ident.span(),
                format!("unknown #[counted] option `{ident}`; expected one of {COUNTED_OPTIONS}"),
            ),
        }
    }
    if let Some(name) = &name {
        check_name(name, errors);
    }
    CountedOptions {
        name: name.map(|lit| lit.value()),
        // A histogram's bounds only make sense for a histogram: `buckets` implies it.
        duration: duration.is_some() || buckets.is_some(),
        concurrent: concurrent.is_some(),
        buckets,
    }
}

fn check_name(name: &LitStr, errors: &mut Errors) {
    let value = name.value();
    let valid = value.len() <= MAX_NAME_LEN
        && value.split("::").all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !valid {
        errors.push(
            name.span(),
            format!(
                "#[counted] `name` must be an identifier or a `::`-separated path of \
                 identifiers (ASCII, at most {MAX_NAME_LEN} bytes), not {value:?}"
            ),
        );
    }
}

fn bucket_bounds<'a>(
    bracket: Span,
    bounds: impl Iterator<Item = &'a Expr>,
    errors: &mut Errors,
) -> Vec<f64> {
    let mut values: Vec<f64> = Vec::new();
    let mut listed = 0;
    for expr in bounds {
        listed += 1;
        let Some(value) = bound_value(expr, errors) else {
            continue;
        };
        if !value.is_finite() {
            errors.push_spanned(expr, "#[counted] bucket bounds must be finite");
        } else if value <= 0.0 {
            errors.push_spanned(expr, "#[counted] bucket bounds must be positive (seconds)");
        } else if let Some(previous) = values.last().filter(|previous| value <= **previous) {
            errors.push_spanned(
                expr,
                format!(
                    "#[counted] bucket bounds must be strictly ascending: {value} follows {previous}"
                ),
            );
        } else {
            values.push(value);
            continue;
        }
        // Keep the bound so that one bad value does not cascade into ordering errors.
        if value.is_finite() {
            values.push(value);
        }
    }
    if listed == 0 {
        errors.push(bracket, "#[counted] `buckets` must list at least one bound");
    }
    values
}

/// The value of a numeric literal, or an error for anything else.
fn bound_value(expr: &Expr, errors: &mut Errors) -> Option<f64> {
    let (negative, literal) = match expr {
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => (true, &*unary.expr),
        other => (false, other),
    };
    let value = match literal {
        Expr::Lit(ExprLit {
            lit: Lit::Float(lit),
            ..
        }) => lit.base10_parse::<f64>().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_parse::<u64>().ok().map(|v| v as f64),
        _ => None,
    };
    match value {
        Some(value) if negative => Some(-value),
        Some(value) => Some(value),
        None => {
            errors.push_spanned(
                expr,
                "#[counted] bucket bounds must be numeric literals in seconds, e.g. `0.25`",
            );
            None
        }
    }
}

/// Rejects function shapes the macros cannot wrap.
pub(crate) fn check_fn(macro_name: &str, function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        errors.push(
            constness.span,
            format!(
                "#[{macro_name}] cannot be applied to a `const fn`: metrics are updated at run time"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push_spanned(
            abi,
            format!(
                "#[{macro_name}] cannot be applied to an `extern` function: a panic cannot \
                 unwind through it to be counted"
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
