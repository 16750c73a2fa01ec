//! What Sentry receives: tracing events mapped to Sentry events and breadcrumbs, exceptions
//! with their `source()` chain and the capture site's stack trace, the trace they happened
//! in, and the redaction every event passes before it leaves.

use std::borrow::Cow;

use sentry::protocol::{
    Breadcrumb, Context, Event, Exception, Frame, Level, Map, SpanId, Stacktrace, TraceContext,
    TraceId, Value,
};

use crate::redact::{REDACTED, Redactor};

/// The field `#[traced(err)]` names the error's Rust type with (its ERROR event's message
/// is the error's Display, `error.chain` its causes).
pub(crate) const TYPE_FIELD: &str = "error.type";
const CHAIN_FIELD: &str = "error.chain";

/// Turns a log event into a Sentry event (ERROR) or a breadcrumb (INFO, WARN).
pub(crate) fn observe(event: &crate::trace::Prepared, ids: Option<(u128, u64)>) {
    if let Some(mut sentry_event) = event_for(event, ids) {
        attach_stacktrace(&mut sentry_event);
        super::hub().capture_event(sentry_event);
        return;
    }
    let level = event.level;
    if level == tracing::Level::INFO || level == tracing::Level::WARN {
        super::hub().add_breadcrumb(Breadcrumb {
            category: Some(event.target.clone()),
            ty: "log".into(),
            level: if level == tracing::Level::WARN {
                Level::Warning
            } else {
                Level::Info
            },
            message: Some(event.message.clone()),
            data: event.fields.clone().into_iter().collect(),
            ..Default::default()
        });
    }
}

/// The Sentry event an ERROR log event becomes (`None` for other levels): an exception
/// event when the log event carries an error value (`error = &err as &dyn Error`) or an
/// `error.type`, a message event otherwise. No stack trace: see
/// [`attach_stacktrace`].
pub(crate) fn event_for(
    event: &crate::trace::Prepared,
    ids: Option<(u128, u64)>,
) -> Option<Event<'static>> {
    if event.level != tracing::Level::ERROR {
        return None;
    }
    let mut extra: Map<String, Value> = event.fields.clone().into_iter().collect();
    let type_name = extra
        .remove(TYPE_FIELD)
        .and_then(|v| v.as_str().map(str::to_owned));
    // The exceptions below are the chain, each cause its own.
    extra.remove(CHAIN_FIELD);
    let mut exceptions = event.exceptions.clone();
    if exceptions.is_empty() && type_name.is_some() {
        // An error type that is not `std::error::Error` (a `String`, say): its text is all
        // there is, one exception of the type the macro named.
        exceptions.push(Exception {
            ty: "Error".into(),
            value: Some(event.message.clone()),
            ..Default::default()
        });
    }
    if let (Some(outer), Some(type_name)) = (exceptions.last_mut(), &type_name) {
        name_exception(outer, type_name);
    }
    if let Some(outer) = exceptions.last_mut() {
        outer.mechanism.get_or_insert_with(Default::default).ty = "tracing".into();
    }
    // The message, unless it only repeats the error's own text.
    let message = exceptions
        .last()
        .is_none_or(|outer| outer.value.as_deref() != Some(event.message.as_str()))
        .then(|| event.message.clone());
    let mut sentry_event = Event {
        level: Level::Error,
        logger: Some(event.target.clone()),
        message,
        exception: exceptions.into(),
        extra: extra.into_iter().collect(),
        ..Default::default()
    };
    if let Some(ids) = ids {
        link_trace(&mut sentry_event, ids);
    }
    if let Some(innermost) = event.span_names.last() {
        // Where it happened: the spans it passed, outermost first.
        let mut spans = Map::new();
        spans.insert("names".into(), Value::from(event.span_names.clone()));
        spans.insert("innermost".into(), Value::from(*innermost));
        sentry_event
            .contexts
            .insert("spans".into(), Context::Other(spans));
    }
    Some(sentry_event)
}

/// Names an exception after the Rust type `type_name` (`std::any::type_name`): its last
/// path segment as the type, the rest as the module. A type behind a pointer (`Box<dyn
/// Error>`) says nothing the error's own Debug did not: the SDK's guess stays.
pub(crate) fn name_exception(exception: &mut Exception, type_name: &str) {
    if type_name.starts_with("dyn ") || type_name.contains("<dyn ") || type_name.is_empty() {
        return;
    }
    let path = type_name.split('<').next().unwrap_or(type_name);
    match path.rsplit_once("::") {
        Some((module, _)) => {
            // The whole rest, generic arguments included.
            exception.ty = type_name[module.len() + 2..].to_owned();
            exception.module = Some(module.to_owned());
        }
        None => exception.ty = type_name.to_owned(),
    }
}

/// The stack trace of the capture site, on the outermost exception: instruction addresses
/// only. Resolving them to functions and lines costs milliseconds (7.7 ms a request in a
/// debug build), so it happens on Sentry's transport thread ([`symbolicate`]), never on the
/// thread that reported.
pub(crate) fn attach_stacktrace(event: &mut Event<'static>) {
    if let Some(outer) = event.exception.values.last_mut()
        && outer.stacktrace.is_none()
    {
        let captured = backtrace::Backtrace::new_unresolved();
        let frames = captured
            .frames()
            .iter()
            .map(|frame| Frame {
                instruction_addr: Some(frame.ip().into()),
                ..Default::default()
            })
            .collect();
        outer.stacktrace = Stacktrace::from_frames_reversed(frames);
    }
}

/// Resolves the unresolved frames [`attach_stacktrace`] left — one frame for each function
/// inlined at an address — and marks them in-app or not: by path first (cargo's registry
/// and git checkouts, the standard library and this crate are not the service's: with
/// line tables only, an inlined async function is named `{async_fn#0}`, which no module
/// prefix matches), then as the SDK does (`in_app_exclude`, its well-known crates).
pub(crate) fn symbolicate(event: &mut Event<'static>, options: &sentry::ClientOptions) {
    for exception in event.exception.values.iter_mut() {
        let Some(stacktrace) = &mut exception.stacktrace else {
            continue;
        };
        if stacktrace
            .frames
            .iter()
            .all(|f| f.function.is_some() || f.instruction_addr.is_none())
        {
            continue;
        }
        let mut resolved = Vec::with_capacity(stacktrace.frames.len());
        // Oldest first, as Sentry orders them; at one address the inlined callee last.
        for frame in std::mem::take(&mut stacktrace.frames) {
            let Some(addr) = frame.instruction_addr.filter(|_| frame.function.is_none()) else {
                resolved.push(frame);
                continue;
            };
            let mut inlined = Vec::new();
            backtrace::resolve(addr.0 as usize as *mut std::ffi::c_void, |symbol| {
                let abs_path = symbol.filename().map(|p| p.to_string_lossy().into_owned());
                inlined.push(Frame {
                    function: Some(
                        symbol
                            .name()
                            .map_or_else(|| "<unknown>".to_owned(), |n| format!("{n:#}")),
                    ),
                    filename: abs_path
                        .as_deref()
                        .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned()),
                    abs_path,
                    lineno: symbol.lineno().map(u64::from),
                    instruction_addr: Some(addr),
                    ..Default::default()
                });
            });
            if inlined.is_empty() {
                inlined.push(Frame {
                    function: Some("<unknown>".into()),
                    instruction_addr: Some(addr),
                    ..Default::default()
                });
            }
            resolved.extend(inlined.into_iter().rev());
        }
        for frame in &mut resolved {
            if frame.abs_path.as_deref().is_some_and(is_dependency_path)
                || frame.function.as_deref().is_some_and(is_capture_machinery)
            {
                frame.in_app = Some(false);
            }
        }
        stacktrace.frames = resolved;
        sentry::integrations::backtrace::process_event_stacktrace(stacktrace, options);
    }
}

/// The unwinder's own frames at the top of a captured stack.
fn is_capture_machinery(function: &str) -> bool {
    function.starts_with("backtrace::") || function.starts_with("<unknown>")
}

/// Whether a source path is a dependency's, not the service's.
fn is_dependency_path(path: &str) -> bool {
    path.contains("/.cargo/registry/")
        || path.contains("/.cargo/git/")
        || path.starts_with("/rustc/")
        || path.starts_with(concat!(env!("CARGO_MANIFEST_DIR"), "/src/"))
}

/// Links `event` to its trace: the `trace` context Sentry reads, and a `trace_id` tag to
/// search by.
pub(crate) fn link_trace(event: &mut Event<'static>, (trace_id, span_id): (u128, u64)) {
    event
        .tags
        .insert("trace_id".into(), format!("{trace_id:032x}"));
    event.contexts.insert(
        "trace".into(),
        Context::Trace(Box::new(TraceContext {
            trace_id: TraceId::from(trace_id.to_be_bytes()),
            span_id: SpanId::from(span_id.to_be_bytes()),
            ..Default::default()
        })),
    );
}

/// The SDK options [`symbolicate`] marks frames by.
pub(crate) fn in_app_options() -> sentry::ClientOptions {
    let mut options = sentry::ClientOptions::new();
    options.in_app_exclude = NOT_IN_APP.to_vec();
    options
}

/// The frames of this crate and of the libraries under every service: never in-app.
pub(crate) const NOT_IN_APP: &[&str] = &[
    "teei_obs::",
    "tracing::",
    "tracing_subscriber::",
    "axum::",
    "tower::",
    "hyper::",
    "hyper_util::",
];

fn redact_value(redactor: &Redactor, key: &str, value: &mut Value) {
    if redactor.is_sensitive_key(key) {
        *value = Value::from(REDACTED);
    } else {
        redactor.redact_json(value);
    }
}

pub(crate) fn redact_breadcrumb(redactor: &Redactor, mut breadcrumb: Breadcrumb) -> Breadcrumb {
    if let Some(message) = &breadcrumb.message {
        breadcrumb.message = Some(redactor.redact_text(message).into_owned());
    }
    for (key, value) in breadcrumb.data.iter_mut() {
        redact_value(redactor, key, value);
    }
    breadcrumb
}

/// The last line of defence: everything an event carries passes the policy.
pub(crate) fn redact_event(redactor: &Redactor, mut event: Event<'static>) -> Event<'static> {
    if let Some(message) = &event.message {
        event.message = Some(redactor.redact_text(message).into_owned());
    }
    for exception in event.exception.values.iter_mut() {
        if let Some(value) = &exception.value {
            exception.value = Some(redactor.redact_text(value).into_owned());
        }
    }
    for (key, value) in event.extra.iter_mut() {
        redact_value(redactor, key, value);
    }
    for (key, value) in event.tags.iter_mut() {
        if redactor.is_sensitive_key(key) {
            *value = REDACTED.to_owned();
        } else {
            *value = redactor.redact_text(value).into_owned();
        }
    }
    for context in event.contexts.values_mut() {
        if let Context::Other(map) = context {
            for (key, value) in map.iter_mut() {
                redact_value(redactor, key, value);
            }
        }
    }
    if let Some(user) = &mut event.user {
        if let Some(email) = &user.email {
            user.email = Some(redactor.redact_text(email).into_owned());
        }
        user.ip_address = None;
        for (key, value) in user.other.iter_mut() {
            redact_value(redactor, key, value);
        }
    }
    event.breadcrumbs.values = std::mem::take(&mut event.breadcrumbs.values)
        .into_iter()
        .map(|b| redact_breadcrumb(redactor, b))
        .collect();
    if let Some(request) = &mut event.request {
        if let Some(url) = &request.url {
            let redacted = redactor.redact_text(url.as_str());
            if let Cow::Owned(redacted) = redacted {
                request.url = redacted.parse().ok();
            }
        }
        for (key, value) in request.headers.iter_mut() {
            if redactor.is_sensitive_key(key) {
                *value = REDACTED.to_owned();
            } else {
                *value = redactor.redact_text(value).into_owned();
            }
        }
        request.cookies = request.cookies.as_ref().map(|_| REDACTED.to_owned());
        request.data = request
            .data
            .as_ref()
            .map(|data| redactor.redact_text(data).into_owned());
        request.query_string = request
            .query_string
            .as_ref()
            .map(|query| redactor.redact_text(query).into_owned());
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exception_is_named_after_its_rust_type() {
        let mut exception = Exception::default();
        name_exception(&mut exception, "payments::gateway::DeclinedError");
        assert_eq!(exception.ty, "DeclinedError");
        assert_eq!(exception.module.as_deref(), Some("payments::gateway"));
        let mut generic = Exception::default();
        name_exception(&mut generic, "payments::Wrapped<std::io::Error>");
        assert_eq!(generic.ty, "Wrapped<std::io::Error>");
        let mut boxed = Exception {
            ty: "Custom".into(),
            ..Default::default()
        };
        name_exception(&mut boxed, "alloc::boxed::Box<dyn core::error::Error>");
        assert_eq!(boxed.ty, "Custom", "a pointer type says nothing");
        let mut plain = Exception::default();
        name_exception(&mut plain, "String");
        assert_eq!(plain.ty, "String");
    }
}
