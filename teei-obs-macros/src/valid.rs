//! The rules of meaning: what parses but cannot be accepted. Every check adds to one
//! error list, so a user sees all the problems of an item in one build.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, LitStr, Token, UnOp};

use crate::args::{
    COUNTED_OPTIONS, CountedArg, CountedArgs, Format, ObjectiveItem, TRACED_OPTIONS, TracedArg,
    TracedArgs,
};

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
fn once<T>(
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

pub(crate) const MAX_NAME_LEN: usize = 128;

pub(crate) fn counted_options(args: CountedArgs, errors: &mut Errors) -> CountedOptions {
    let mut name = None;
    let mut duration = None;
    let mut concurrent = None;
    let mut buckets = None;
    let mut objective = None;
    for arg in args.0 {
        match arg {
            CountedArg::Name(keyword, value) => {
                once("counted", &mut name, value, keyword.span, "name", errors);
            }
            CountedArg::Duration(keyword) => {
                once(
                    "counted",
                    &mut duration,
                    (),
                    keyword.span,
                    "duration",
                    errors,
                );
            }
            CountedArg::Concurrent(keyword) => {
                once(
                    "counted",
                    &mut concurrent,
                    (),
                    keyword.span,
                    "concurrent",
                    errors,
                );
            }
            CountedArg::Buckets {
                keyword,
                bracket,
                bounds,
            } => {
                let parsed = bucket_bounds(bracket, bounds.iter(), errors);
                once(
                    "counted",
                    &mut buckets,
                    parsed,
                    keyword.span,
                    "buckets",
                    errors,
                );
            }
            CountedArg::Objective {
                keyword,
                paren,
                items,
            } => {
                let parsed = (paren, items);
                once(
                    "counted",
                    &mut objective,
                    parsed,
                    keyword.span,
                    "objective",
                    errors,
                );
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

/// Must equal `teei_obs::metrics::DEFAULT_BUCKETS`; a test in the runtime crate checks it.
pub(crate) const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

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
        // 99 % of calls within the threshold unless told otherwise.
        Some((seconds, within_ratio.unwrap_or(0.99)))
    });
    (success, latency)
}

/// A non-negative numeric literal's value.
fn literal_number(expr: &Expr) -> Option<f64> {
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

/// Rejects function shapes the macros cannot wrap.
pub(crate) fn check_fn(macro_name: &str, function: &ItemFn, errors: &mut Errors) {
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

/// The checked options of `#[traced]`.
pub(crate) struct TracedOptions {
    pub(crate) name: Option<String>,
    /// `TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR`.
    pub(crate) level: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) skip: Vec<syn::Ident>,
    pub(crate) fields: Option<proc_macro2::TokenStream>,
    pub(crate) err: Option<(Span, Format)>,
    pub(crate) ret: Option<(Span, Format)>,
}

const LEVELS: [(&str, &str); 5] = [
    ("trace", "TRACE"),
    ("debug", "DEBUG"),
    ("info", "INFO"),
    ("warn", "WARN"),
    ("error", "ERROR"),
];
const KINDS: [&str; 5] = ["server", "client", "internal", "producer", "consumer"];

pub(crate) fn traced_options(args: TracedArgs, errors: &mut Errors) -> TracedOptions {
    let mut name = None;
    let mut level = None;
    let mut kind = None;
    let mut skip = None;
    let mut skip_all = None;
    let mut fields = None;
    let mut err = None;
    let mut ret = None;
    for arg in args.0 {
        match arg {
            TracedArg::Name(keyword, value) => {
                if value.value().trim().is_empty() {
                    errors.push(value.span(), "#[traced] `name` must not be empty");
                }
                once("traced", &mut name, value.value(), keyword.span, "name", errors);
            }
            TracedArg::Level(keyword, value) => {
                let text = value.value().to_ascii_lowercase();
                match LEVELS.iter().find(|(name, _)| *name == text) {
                    Some((_, level_name)) => {
                        once("traced", &mut level, *level_name, keyword.span, "level", errors);
                    }
                    None => errors.push(
                        value.span(),
                        format!(
                            "#[traced] unknown level {:?}; expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\"",
                            value.value()
                        ),
                    ),
                }
            }
            TracedArg::Kind(keyword, value) => match KINDS.iter().find(|k| **k == value.value()) {
                Some(found) => once("traced", &mut kind, *found, keyword.span, "kind", errors),
                None => errors.push(
                    value.span(),
                    format!(
                        "#[traced] unknown span kind {:?}; expected one of \"server\", \"client\", \"internal\", \"producer\", \"consumer\"",
                        value.value()
                    ),
                ),
            },
            TracedArg::Skip(keyword, idents) => {
                once("traced", &mut skip, idents.into_iter().collect::<Vec<_>>(), keyword.span, "skip", errors);
            }
            TracedArg::SkipAll(keyword) => {
                once("traced", &mut skip_all, keyword.span, keyword.span, "skip_all", errors);
            }
            TracedArg::Fields(keyword, tokens) => {
                once("traced", &mut fields, tokens, keyword.span, "fields", errors);
            }
            TracedArg::Err(keyword, format) => {
                let format = format.map_or(Format::Display, |(_, f)| f);
                once("traced", &mut err, (keyword.span, format), keyword.span, "err", errors);
            }
            TracedArg::Ret(keyword, format) => {
                let format = format.map_or(Format::Debug, |(_, f)| f);
                once("traced", &mut ret, (keyword.span, format), keyword.span, "ret", errors);
            }
            TracedArg::Unknown(ident) => errors.push(
                ident.span(),
                format!("unknown #[traced] option `{ident}`; expected one of {TRACED_OPTIONS}"),
            ),
        }
    }
    if let (Some(_), Some(span)) = (&skip, skip_all) {
        errors.push(
            span,
            "#[traced] `skip_all` already skips every argument; drop `skip(..)`",
        );
    }
    TracedOptions {
        name,
        level: level.unwrap_or("INFO"),
        kind: kind.unwrap_or("internal"),
        skip: skip.unwrap_or_default(),
        fields,
        err,
        ret,
    }
}

/// `skip(..)` must name parameters, and a skipped parameter cannot be recorded in
/// `fields(..)` by its bare name.
pub(crate) fn check_traced_params(options: &TracedOptions, function: &ItemFn, errors: &mut Errors) {
    let params: Vec<String> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(ident) => Some(ident.ident.to_string()),
                _ => None,
            },
            syn::FnArg::Receiver(_) => Some("self".to_owned()),
        })
        .collect();
    for ident in &options.skip {
        if !params.contains(&ident.to_string()) {
            errors.push(
                ident.span(),
                format!(
                    "#[traced] `skip` names `{ident}`, which is not a parameter of this function"
                ),
            );
        }
    }
    if let Some(fields) = &options.fields {
        let mut segment: Vec<proc_macro2::TokenTree> = Vec::new();
        let mut check = |segment: &mut Vec<proc_macro2::TokenTree>| {
            if let [proc_macro2::TokenTree::Ident(ident)] = segment.as_slice()
                && options.skip.iter().any(|skipped| skipped == ident)
            {
                errors.push(
                    ident.span(),
                    format!("#[traced] `{ident}` is skipped and cannot be recorded in `fields`"),
                );
            }
            segment.clear();
        };
        for tree in fields.clone() {
            match &tree {
                proc_macro2::TokenTree::Punct(punct) if punct.as_char() == ',' => {
                    check(&mut segment)
                }
                _ => segment.push(tree),
            }
        }
        check(&mut segment);
    }
}

/// The kinds of `#[health_check(kind = "…")]` with their defaults:
/// `(name, variant, timeout ms, interval ms, critical, probes)`, probes as bits
/// (liveness 1, readiness 2, startup 4).
pub(crate) const HEALTH_KINDS: [(&str, &str, u64, u64, bool, u8); 7] = [
    ("db", "Db", 2_000, 10_000, true, 2 | 4),
    ("cache", "Cache", 1_000, 10_000, false, 2 | 4),
    ("queue", "Queue", 2_000, 10_000, true, 2 | 4),
    ("nats", "Nats", 2_000, 10_000, true, 2 | 4),
    ("http", "Http", 3_000, 15_000, false, 2),
    ("disk", "Disk", 1_000, 30_000, true, 2),
    ("custom", "Custom", 2_000, 10_000, true, 2),
];

/// The checked options of `#[health_check]`.
pub(crate) struct HealthOptions {
    pub(crate) name: Option<String>,
    pub(crate) kind: &'static str,
    pub(crate) timeout_ms: u64,
    pub(crate) interval_ms: u64,
    pub(crate) critical: bool,
    pub(crate) probes: u8,
}

/// Parses `250ms`, `2s`, `1m`, `1h`, or a sum such as `1m30s`, into milliseconds.
fn parse_duration(text: &str) -> Option<u64> {
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

pub(crate) fn health_options(args: crate::args::HealthArgs, errors: &mut Errors) -> HealthOptions {
    use crate::args::{HEALTH_OPTIONS, HealthArg};
    let mut kind = None;
    let mut kind_seen = false;
    let mut name = None;
    let mut timeout = None;
    let mut interval = None;
    let mut critical = None;
    let mut probes = None;
    let duration = |value: &LitStr, option: &str, errors: &mut Errors| match parse_duration(
        &value.value(),
    ) {
        Some(0) => {
            errors.push(
                value.span(),
                format!("#[health_check] `{option}` must be longer than zero"),
            );
            None
        }
        Some(ms) => Some((ms, value.span())),
        None => {
            errors.push(
                value.span(),
                format!(
                    "#[health_check] `{option}` must be a duration such as \"250ms\", \"2s\", \"1m30s\" (units ms, s, m, h), not {:?}",
                    value.value()
                ),
            );
            None
        }
    };
    for arg in args.0 {
        match arg {
            HealthArg::Kind(keyword, value) => {
                if kind_seen {
                    errors.push(
                        keyword.span,
                        "#[health_check] option `kind` specified more than once",
                    );
                }
                kind_seen = true;
                match HEALTH_KINDS.iter().position(|k| k.0 == value.value()) {
                    Some(index) => kind = Some(index),
                    None => errors.push(
                        value.span(),
                        format!(
                            "#[health_check] unknown kind {:?}; expected one of \"db\", \"cache\", \"queue\", \"nats\", \"http\", \"disk\", \"custom\"",
                            value.value()
                        ),
                    ),
                }
            }
            HealthArg::Name(keyword, value) => {
                if value.value().trim().is_empty() {
                    errors.push(value.span(), "#[health_check] `name` must not be empty");
                }
                once(
                    "health_check",
                    &mut name,
                    value.value(),
                    keyword.span,
                    "name",
                    errors,
                );
            }
            HealthArg::Timeout(keyword, value) => {
                if let Some(parsed) = duration(&value, "timeout", errors) {
                    once(
                        "health_check",
                        &mut timeout,
                        parsed,
                        keyword.span,
                        "timeout",
                        errors,
                    );
                }
            }
            HealthArg::Interval(keyword, value) => {
                if let Some(parsed) = duration(&value, "interval", errors) {
                    once(
                        "health_check",
                        &mut interval,
                        parsed,
                        keyword.span,
                        "interval",
                        errors,
                    );
                }
            }
            HealthArg::Critical(keyword, value) => {
                once(
                    "health_check",
                    &mut critical,
                    value.value,
                    keyword.span,
                    "critical",
                    errors,
                );
            }
            HealthArg::Probes(keyword, idents) => {
                let mut bits = 0u8;
                for ident in &idents {
                    let bit = match ident.to_string().as_str() {
                        "liveness" => 1,
                        "readiness" => 2,
                        "startup" => 4,
                        other => {
                            errors.push(
                                ident.span(),
                                format!("#[health_check] unknown probe `{other}`; expected `liveness`, `readiness` or `startup`"),
                            );
                            0
                        }
                    };
                    if bits & bit != 0 {
                        errors.push(
                            ident.span(),
                            format!("#[health_check] probe `{ident}` listed twice"),
                        );
                    }
                    bits |= bit;
                }
                once(
                    "health_check",
                    &mut probes,
                    bits,
                    keyword.span,
                    "probes",
                    errors,
                );
            }
            HealthArg::Unknown(ident) => errors.push(
                ident.span(),
                format!(
                    "unknown #[health_check] option `{ident}`; expected one of {HEALTH_OPTIONS}"
                ),
            ),
        }
    }
    if !kind_seen {
        errors.push(
            Span::call_site(),
            "#[health_check] needs a `kind`: one of \"db\", \"cache\", \"queue\", \"nats\", \"http\", \"disk\", \"custom\"",
        );
    }
    let defaults = HEALTH_KINDS[kind.unwrap_or(6)];
    let timeout_ms = timeout.map_or(defaults.2, |(ms, _)| ms);
    let interval_ms = interval.map_or(defaults.3, |(ms, _)| ms);
    if timeout_ms > interval_ms {
        let span = timeout
            .or(interval)
            .map_or(Span::call_site(), |(_, span)| span);
        errors.push(
            span,
            format!("#[health_check] `timeout` ({timeout_ms} ms) must not exceed `interval` ({interval_ms} ms)"),
        );
    }
    HealthOptions {
        name,
        kind: defaults.1,
        timeout_ms,
        interval_ms,
        critical: critical.unwrap_or(defaults.4),
        probes: probes.unwrap_or(defaults.5),
    }
}

/// A health check is a free `async fn` without generics, returning a `Result` or a
/// `CheckOutcome`, whose parameters are `&T` or `T`.
pub(crate) fn check_health_fn(_: &HealthOptions, function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(sig.fn_token.span, "#[health_check] needs an `async fn`");
    }
    if !sig.generics.params.is_empty() {
        errors.push_spanned(&sig.generics, "#[health_check] functions cannot be generic");
    }
    let returns_result = match &sig.output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Path(path) => path.path.segments.last().is_some_and(|segment| {
                segment.ident == "Result" || segment.ident == "CheckOutcome"
            }),
            _ => false,
        },
        syn::ReturnType::Default => false,
    };
    if !returns_result {
        let message = "#[health_check] must return `Result<(), E>` or `Result<String, E>` with `E: Display`, or `teei_obs::health::CheckOutcome`";
        match &sig.output {
            syn::ReturnType::Type(_, ty) => errors.push_spanned(ty, message),
            syn::ReturnType::Default => errors.push(sig.paren_token.span.join(), message),
        }
    }
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(receiver) => errors.push_spanned(
                receiver,
                "#[health_check] must be a free function: state comes in as parameters, not `self`",
            ),
            syn::FnArg::Typed(typed) => {
                if let syn::Type::Reference(reference) = &*typed.ty
                    && reference.mutability.is_some()
                {
                    errors.push_spanned(
                        &typed.ty,
                        "#[health_check] parameters are shared state: take `&T` or `T: Clone`, not `&mut T`",
                    );
                }
            }
        }
    }
}
