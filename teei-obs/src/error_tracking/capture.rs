//! Reporting by hand: an error or a message, with tags, user, extra data, level and
//! fingerprint — the TypeScript package's `captureException(error, { tags, user, extra })`.

use std::error::Error;

use sentry::protocol::{Event, Map, Value};

use super::Level;

/// The ID Sentry knows a captured event by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId(sentry::types::Uuid);

impl std::fmt::Display for EventId {
    /// The 32 hexadecimal digits Sentry shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.simple())
    }
}

/// Who an event happened to. Redacted like everything else: an e-mail address is masked
/// before it leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    id: Option<String>,
    company_id: Option<String>,
    role: Option<String>,
    email: Option<String>,
}

impl User {
    /// A user known by `id`.
    pub fn id(id: impl Into<String>) -> Self {
        User {
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// The user's company (tenant).
    pub fn company_id(mut self, company_id: impl Into<String>) -> Self {
        self.company_id = Some(company_id.into());
        self
    }

    /// The user's role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// The user's e-mail address (masked by the redaction policy).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    fn into_sentry(self) -> sentry::User {
        let mut other = Map::new();
        if let Some(company_id) = self.company_id {
            other.insert("companyId".into(), Value::from(company_id));
        }
        if let Some(role) = self.role {
            other.insert("role".into(), Value::from(role));
        }
        sentry::User {
            id: self.id,
            email: self.email,
            other,
            ..Default::default()
        }
    }
}

/// Sets the user of the current request or message (or of the process, outside both).
pub fn set_user(id: &str, company_id: Option<&str>, role: Option<&str>) {
    let mut user = User::id(id);
    user.company_id = company_id.map(str::to_owned);
    user.role = role.map(str::to_owned);
    super::hub().configure_scope(|scope| scope.set_user(Some(user.into_sentry())));
}

/// An event being put together; [`Capture::send`] reports it to the current request's or
/// message's hub (the process hub outside both), linked to the current span's trace.
#[derive(Debug)]
#[must_use = "nothing is reported until `send`"]
pub struct Capture {
    event: Event<'static>,
}

impl Capture {
    /// An exception event for `error`: its type, Display and `source()` chain, and the
    /// stack trace of this call.
    pub fn error<E: Error + ?Sized + 'static>(error: &E) -> Self {
        let mut event = sentry::event_from_error(error);
        if let Some(outer) = event.exception.values.last_mut() {
            super::event::name_exception(outer, std::any::type_name::<E>());
            outer.mechanism.get_or_insert_with(Default::default).ty = "capture_error".into();
            outer.mechanism.get_or_insert_with(Default::default).handled = Some(true);
        }
        super::event::attach_stacktrace(&mut event);
        Capture { event }
    }

    /// A message event at level `Info` (see [`Capture::level`]).
    pub fn message(message: impl Into<String>) -> Self {
        Capture {
            event: Event {
                message: Some(message.into()),
                level: Level::Info,
                ..Default::default()
            },
        }
    }

    /// Adds a tag: indexed and searchable in Sentry.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.event.tags.insert(key.into(), value.into());
        self
    }

    /// Sets the user (replacing the one the request set with [`set_user`]).
    pub fn user(mut self, user: User) -> Self {
        self.event.user = Some(user.into_sentry());
        self
    }

    /// Adds extra data (redacted by key and by value like a log field).
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.event.extra.insert(key.into(), value.into());
        self
    }

    /// Sets the level (an error's default is `Error`, a message's `Info`).
    pub fn level(mut self, level: Level) -> Self {
        self.event.level = level;
        self
    }

    /// Groups the event by these parts instead of Sentry's default (`{{ default }}`
    /// keeps it and refines it).
    pub fn fingerprint<I, S>(mut self, parts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.event.fingerprint = parts.into_iter().map(|p| p.into().into()).collect();
        self
    }

    /// Reports the event; its ID, or `None` when it was not captured (no Sentry client,
    /// sampled out).
    pub fn send(mut self) -> Option<EventId> {
        if let Some(ids) = current_trace() {
            super::event::link_trace(&mut self.event, ids);
        }
        // Inside a test capture, the event is kept there, as it would have been sent.
        #[cfg(feature = "testing")]
        if let Some((store, redactor)) = crate::trace::TeeiSubscriber::sentry_capture() {
            let mut event = super::event::redact_event(&redactor, self.event);
            super::event::symbolicate(&mut event, &super::event::in_app_options());
            let id = event.event_id;
            if let Ok(json) = serde_json::to_value(&event) {
                store.lock().unwrap_or_else(|e| e.into_inner()).push(json);
            }
            return Some(EventId(id));
        }
        let id = super::hub().capture_event(self.event);
        (!id.is_nil()).then_some(EventId(id))
    }
}

/// Reports `error` (see [`Capture::error`] for tags, user, extra, level, fingerprint).
pub fn capture_error<E: Error + ?Sized + 'static>(error: &E) -> Option<EventId> {
    Capture::error(error).send()
}

/// Reports `message` at `level` (see [`Capture::message`] for more).
pub fn capture_message(message: &str, level: Level) -> Option<EventId> {
    Capture::message(message).level(level).send()
}

/// The trace and span the current span records, else the request's remote parent.
fn current_trace() -> Option<(u128, u64)> {
    crate::trace::parent_of_span(&tracing::Span::current())
        .or_else(crate::trace::remote_parent)
        .map(|parent| (parent.trace_id, parent.span_id))
}

/// Puts a hook in front of the SDK's panic hook (once per process) that gives its panic
/// event the trace of the span the panic happened in.
pub(crate) fn link_panics_to_traces() {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let Some(parent) = crate::trace::parent_of_span(&tracing::Span::current()) else {
                return previous(info);
            };
            // The SDK's panic integration captures from inside `previous`.
            sentry::with_scope(
                |scope| {
                    let mut event = sentry::protocol::Event::default();
                    super::event::link_trace(&mut event, (parent.trace_id, parent.span_id));
                    for (key, context) in event.contexts {
                        scope.set_context(&key, context);
                    }
                    for (key, value) in event.tags {
                        scope.set_tag(&key, value);
                    }
                },
                || previous(info),
            );
        }));
    });
}
