//! What `#[health_check(...)]` accepts: every problem of meaning, collected in one list.

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::{Ident, ItemFn, LitStr, Token};

use super::args::{HEALTH_OPTIONS, HealthArg, HealthArgs};
use crate::common::{Errors, parse_duration, quoted_list};
use teei_obs_shared::{HEALTH_KINDS, HealthKind, PROBES};

/// The checked options of `#[health_check]`.
pub(crate) struct HealthOptions {
    pub(crate) name: Option<String>,
    /// The variant of `teei_obs::health::Kind`.
    pub(crate) kind: &'static str,
    pub(crate) timeout_ms: u64,
    pub(crate) interval_ms: u64,
    pub(crate) critical: bool,
    pub(crate) probes: u8,
}

/// The options as given, before defaults: each `None` until seen.
#[derive(Default)]
struct Given {
    /// `Some(None)`: a `kind` was given but names no kind.
    kind: Option<Option<&'static HealthKind>>,
    name: Option<String>,
    timeout: Option<(u64, Span)>,
    interval: Option<(u64, Span)>,
    critical: Option<bool>,
    probes: Option<u8>,
}

pub(crate) fn health_options(args: HealthArgs, errors: &mut Errors) -> HealthOptions {
    let mut given = Given::default();
    for arg in args.0 {
        given.take(arg, errors);
    }
    given.finish(errors)
}

impl Given {
    fn take(&mut self, arg: HealthArg, errors: &mut Errors) {
        match arg {
            HealthArg::Kind(keyword, value) => {
                let found = teei_obs_shared::health_kind(&value.value());
                if found.is_none() {
                    errors.push(
                        value.span(),
                        format!(
                            "#[health_check] unknown kind {:?}; expected one of {}",
                            value.value(),
                            kind_list()
                        ),
                    );
                }
                once(&mut self.kind, found, keyword.span, "kind", errors);
            }
            HealthArg::Name(keyword, value) => {
                if value.value().trim().is_empty() {
                    errors.push(value.span(), "#[health_check] `name` must not be empty");
                }
                once(&mut self.name, value.value(), keyword.span, "name", errors);
            }
            HealthArg::Timeout(keyword, value) => {
                if let Some(parsed) = duration(&value, "timeout", errors) {
                    once(&mut self.timeout, parsed, keyword.span, "timeout", errors);
                }
            }
            HealthArg::Interval(keyword, value) => {
                if let Some(parsed) = duration(&value, "interval", errors) {
                    once(&mut self.interval, parsed, keyword.span, "interval", errors);
                }
            }
            HealthArg::Critical(keyword, value) => {
                once(
                    &mut self.critical,
                    value.value,
                    keyword.span,
                    "critical",
                    errors,
                );
            }
            HealthArg::Probes(keyword, idents) => {
                let bits = probe_bits(&idents, errors);
                once(&mut self.probes, bits, keyword.span, "probes", errors);
            }
            HealthArg::Unknown(ident) => errors.push(
                ident.span(),
                format!(
                    "unknown #[health_check] option `{ident}`; expected one of {HEALTH_OPTIONS}"
                ),
            ),
        }
    }

    fn finish(self, errors: &mut Errors) -> HealthOptions {
        if self.kind.is_none() {
            errors.push(
                Span::call_site(),
                format!("#[health_check] needs a `kind`: one of {}", kind_list()),
            );
        }
        // Without a (known) kind, the rest is still checked against `custom`'s defaults.
        let defaults = self
            .kind
            .flatten()
            .unwrap_or(&HEALTH_KINDS[HEALTH_KINDS.len() - 1]);
        let timeout_ms = self.timeout.map_or(defaults.timeout_ms, |(ms, _)| ms);
        let interval_ms = self.interval.map_or(defaults.interval_ms, |(ms, _)| ms);
        if timeout_ms > interval_ms {
            let span = self
                .timeout
                .or(self.interval)
                .map_or(Span::call_site(), |(_, span)| span);
            errors.push(
                span,
                format!("#[health_check] `timeout` ({timeout_ms} ms) must not exceed `interval` ({interval_ms} ms)"),
            );
        }
        HealthOptions {
            name: self.name,
            kind: defaults.variant,
            timeout_ms,
            interval_ms,
            critical: self.critical.unwrap_or(defaults.critical),
            probes: self.probes.unwrap_or(defaults.probes),
        }
    }
}

/// Records the first occurrence of an option; a second is an error on its keyword.
fn once<T>(slot: &mut Option<T>, value: T, span: Span, option: &str, errors: &mut Errors) {
    crate::common::once("health_check", slot, value, span, option, errors);
}

/// `"db", "cache", …`, for messages.
fn kind_list() -> String {
    quoted_list(HEALTH_KINDS.iter().map(|kind| kind.name))
}

/// A `timeout` or `interval` in milliseconds, with the literal's span.
fn duration(value: &LitStr, option: &str, errors: &mut Errors) -> Option<(u64, Span)> {
    match parse_duration(&value.value()) {
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
    }
}

/// `probes(liveness, readiness)` as bits; an unknown or repeated probe is an error.
fn probe_bits(idents: &Punctuated<Ident, Token![,]>, errors: &mut Errors) -> u8 {
    let mut bits = 0u8;
    for ident in idents {
        let named = ident.to_string();
        let Some(probe) = PROBES.iter().find(|probe| probe.name == named) else {
            errors.push(
                ident.span(),
                format!("#[health_check] unknown probe `{named}`; expected `liveness`, `readiness` or `startup`"),
            );
            continue;
        };
        if bits & probe.bit != 0 {
            errors.push(
                ident.span(),
                format!("#[health_check] probe `{ident}` listed twice"),
            );
        }
        bits |= probe.bit;
    }
    bits
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
