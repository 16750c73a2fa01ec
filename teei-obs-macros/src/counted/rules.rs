//! What `#[counted(...)]` accepts: every problem of meaning, collected in one list.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Token, UnOp};

use super::args::{COUNTED_OPTIONS, CountedArg, CountedArgs, ObjectiveItem};
use crate::common::{Errors, literal_number};
pub(crate) use teei_obs_shared::DEFAULT_BUCKETS;
use teei_obs_shared::{MAX_NAME_LEN, is_valid_function_name};

/// The checked options of `#[counted]`.
pub(crate) struct CountedOptions {
    pub(crate) name: Option<String>,
    pub(crate) duration: bool,
    pub(crate) concurrent: bool,
    /// Upper bounds in seconds, when given.
    pub(crate) buckets: Option<Vec<f64>>,
    /// The objectives, when declared.
    pub(crate) objective: Option<ObjectiveOptions>,
}

/// `(success ratio, (latency seconds, ratio within))`.
pub(crate) type ObjectiveOptions = (Option<f64>, Option<(f64, f64)>);

pub(crate) fn counted_options(args: CountedArgs, errors: &mut Errors) -> CountedOptions {
    let mut name = None;
    let mut duration = None;
    let mut concurrent = None;
    let mut buckets = None;
    let mut objective = None;
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
            CountedArg::Objective {
                keyword,
                paren,
                items,
            } => {
                let parsed = (paren, items);
                once(&mut objective, parsed, keyword.span, "objective", errors);
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
    // A histogram's bounds only make sense for a histogram: `buckets` implies it.
    let duration = duration.is_some() || buckets.is_some();
    let objective = objective.map(|(paren, items)| {
        let bounds = buckets.clone().unwrap_or_else(|| DEFAULT_BUCKETS.to_vec());
        objective_options(paren, &items, duration.then_some(&bounds[..]), errors)
    });
    CountedOptions {
        name: name.map(|lit| lit.value()),
        duration,
        concurrent: concurrent.is_some(),
        buckets,
        objective,
    }
}

const OBJECTIVE_KEYS: &str = "`success`, `latency`, `within`";

/// Checks `objective(success = 99.9, latency = 0.25, within = 99)` against the histogram's
/// bounds (`None` without `duration`); returns ratios.
fn objective_options(
    paren: Span,
    items: &Punctuated<ObjectiveItem, Token![,]>,
    bounds: Option<&[f64]>,
    errors: &mut Errors,
) -> ObjectiveOptions {
    let mut success = None;
    let mut latency = None;
    let mut within = None;
    for item in items {
        let key = item.key.to_string();
        let slot = match key.as_str() {
            "success" => &mut success,
            "latency" => &mut latency,
            "within" => &mut within,
            _ => {
                errors.push(
                    item.key.span(),
                    format!("unknown objective `{key}`; expected one of {OBJECTIVE_KEYS}"),
                );
                continue;
            }
        };
        if slot.is_some() {
            errors.push(item.key.span(), format!("objective `{key}` given twice"));
            continue;
        }
        let Some(value) = literal_number(&item.value) else {
            errors.push_spanned(
                &item.value,
                format!("objective `{key}` must be a numeric literal"),
            );
            continue;
        };
        *slot = Some((value, item));
    }
    if items.is_empty() {
        errors.push(
            paren,
            format!("#[counted] `objective` needs at least one of {OBJECTIVE_KEYS}"),
        );
    }
    let percent = |(value, item): (f64, &ObjectiveItem), errors: &mut Errors| {
        if value > 0.0 && value < 100.0 {
            // 99.9 / 100 is 0.9990000000000001 in binary: round off the noise.
            Some((value / 100.0 * 1e12).round() / 1e12)
        } else {
            errors.push_spanned(
                &item.value,
                format!(
                    "objective `{}` is a percentage between 0 and 100 (both excluded), e.g. 99.9; not {value}",
                    item.key
                ),
            );
            None
        }
    };
    let success = success.and_then(|s| percent(s, errors));
    let within_ratio = within.and_then(|w| percent(w, errors));
    if let (Some((_, item)), None) = (within, latency) {
        errors.push(
            item.key.span(),
            "objective `within` is the share of calls faster than `latency`: give `latency` too",
        );
    }
    let latency = latency.and_then(|(seconds, item)| {
        latency_objective(seconds, item, bounds, errors)
            // 99 % of calls within the threshold unless told otherwise.
            .map(|seconds| (seconds, within_ratio.unwrap_or(0.99)))
    });
    (success, latency)
}

fn check_name(name: &LitStr, errors: &mut Errors) {
    let value = name.value();
    if !is_valid_function_name(&value) {
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
    let value = literal_number(literal);
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

/// Records the first occurrence of an option; a second is an error on its keyword.
fn once<T>(slot: &mut Option<T>, value: T, span: Span, option: &str, errors: &mut Errors) {
    crate::common::once("counted", slot, value, span, option, errors);
}

/// A latency objective's threshold, which must be one of the histogram's bucket bounds.
fn latency_objective(
    seconds: f64,
    item: &ObjectiveItem,
    bounds: Option<&[f64]>,
    errors: &mut Errors,
) -> Option<f64> {
    let Some(bounds) = bounds else {
        errors.push(
            item.key.span(),
            "a latency objective needs the duration histogram: add `duration` (or `buckets`)",
        );
        return None;
    };
    if !bounds.iter().any(|bound| (bound - seconds).abs() < 1e-12) {
        errors.push_spanned(
            &item.value,
            format!(
                "latency objective {seconds} s is not a bucket bound of this histogram, so \
                 the share of calls within it cannot be counted; bounds: {bounds:?} \
                 (add it to `buckets`)"
            ),
        );
        return None;
    }
    Some(seconds)
}
