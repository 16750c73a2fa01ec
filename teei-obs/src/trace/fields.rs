//! What the sinks take from spans and events, computed one way for all of them: the fields
//! of a span that log lines written inside it carry (kept the same way by the fast
//! subscriber and by the log and Sentry layers on a `Registry`), and an event prepared for
//! a line or a Sentry event — redacted once, by the one policy.

use serde_json::{Map, Value};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// An event turned into what every sink takes from it: level, target (the `log` crate's
/// own for bridged records), the redacted message, and the redacted fields of the event
/// and of the spans it happened in (outermost first, the event's own last).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) level: tracing::Level,
    pub(crate) target: String,
    pub(crate) message: String,
    pub(crate) fields: Map<String, Value>,
    /// The error value the event carries (`error = &err as &dyn Error`), innermost
    /// `source()` first as Sentry orders them, values redacted.
    #[cfg(feature = "sentry")]
    pub(crate) exceptions: Vec<sentry::protocol::Exception>,
    /// The names of the spans the event happened in, outermost first (filled in for
    /// Sentry, whose event names them).
    #[cfg(feature = "sentry")]
    pub(crate) span_names: Vec<&'static str>,
}

/// Collects an event's or a span's fields as JSON values.
#[derive(Default)]
pub(crate) struct JsonFields {
    pub(crate) message: Option<String>,
    pub(crate) fields: Vec<(&'static str, Value)>,
    #[cfg(feature = "sentry")]
    pub(crate) exceptions: Vec<sentry::protocol::Exception>,
}

impl JsonFields {
    fn push(&mut self, field: &Field, value: Value) {
        // A record bridged from the `log` crate carries its origin in `log.*` fields: the
        // target is read from there, the rest is noise in a line.
        if !field.name().starts_with("log.") {
            self.fields.push((field.name(), value));
        }
    }
}

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.push(field, Value::from(value));
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // A line shows the chain as one text: `outer: cause: root cause`.
        self.push(field, Value::from(crate::error_chain(value)));
        // Sentry gets the chain itself, typed by the SDK (the first error value wins).
        #[cfg(feature = "sentry")]
        if self.exceptions.is_empty() {
            self.exceptions = sentry::event_from_error(value).exception.values;
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            self.push(field, Value::from(format!("{value:?}")));
        }
    }
}

/// `event` with the fields of its spans, redacted: what a line and Sentry are made of.
pub(crate) fn prepare(
    redactor: &crate::redact::Redactor,
    event: &tracing::Event<'_>,
    span_fields: &[(&'static str, Value)],
) -> Prepared {
    use tracing_log::NormalizeEvent;
    let normalized = event.normalized_metadata();
    let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let mut fields = JsonFields::default();
    event.record(&mut fields);
    let message = fields
        .message
        .as_deref()
        .map(|m| redactor.redact_text(m).into_owned())
        .unwrap_or_default();
    let redact = |key: &str, value: Value| {
        if redactor.is_sensitive_key(key) {
            return Value::from(crate::redact::REDACTED);
        }
        let mut value = value;
        redactor.redact_json(&mut value);
        value
    };
    #[cfg(feature = "sentry")]
    let exceptions = {
        let mut exceptions = fields.exceptions;
        for exception in &mut exceptions {
            if let Some(value) = &exception.value {
                exception.value = Some(redactor.redact_text(value).into_owned());
            }
        }
        exceptions
    };
    let fields = span_fields
        .iter()
        .cloned()
        .chain(fields.fields)
        .map(|(key, value)| (key.to_owned(), redact(key, value)))
        .collect();
    Prepared {
        level: *metadata.level(),
        target: metadata.target().to_owned(),
        message,
        fields,
        #[cfg(feature = "sentry")]
        exceptions,
        #[cfg(feature = "sentry")]
        span_names: Vec::new(),
    }
}

/// The span bookkeeping the log and Sentry layers share, as `Layer` methods: each span's
/// fields kept in its extensions, the dispatcher remembered (in `self.registry`) to find an
/// event's trace.
macro_rules! event_layer_span_methods {
    () => {
        fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
            self.registry.register(subscriber);
        }

        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            id: &tracing::span::Id,
            ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            crate::trace::store_span_fields(attrs, id, &ctx);
        }

        fn on_record(
            &self,
            id: &tracing::span::Id,
            values: &tracing::span::Record<'_>,
            ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            crate::trace::record_span_fields(id, values, &ctx);
        }
    };
}
pub(crate) use event_layer_span_methods;

/// Keeps a new span's fields in its extensions (once, whichever layer comes first).
pub(crate) fn store_span_fields<S>(attrs: &Attributes<'_>, id: &Id, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(span) = ctx.span(id) {
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<OwnFields>().is_none() {
            extensions.insert(OwnFields::of(attrs));
        }
    }
}

/// Records late values of a span's fields (a later value replaces an earlier one, so two
/// layers recording the same value change nothing).
pub(crate) fn record_span_fields<S>(id: &Id, values: &Record<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(span) = ctx.span(id)
        && let Some(fields) = span.extensions_mut().get_mut::<OwnFields>()
    {
        values.record(fields);
    }
}

/// The fields of the spans `event` happened in, outermost first.
pub(crate) fn scope_fields<S>(
    event: &tracing::Event<'_>,
    ctx: &Context<'_, S>,
) -> Vec<(&'static str, serde_json::Value)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut fields = Vec::new();
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope.from_root() {
            if let Some(own) = span.extensions().get::<OwnFields>() {
                fields.extend(own.json());
            }
        }
    }
    fields
}

/// The names of the spans `event` happened in, outermost first.
#[cfg(feature = "sentry")]
pub(crate) fn scope_names<S>(event: &tracing::Event<'_>, ctx: &Context<'_, S>) -> Vec<&'static str>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope(event)
        .map(|scope| scope.from_root().map(|span| span.name()).collect())
        .unwrap_or_default()
}

/// A span's own fields (not `otel.*`), kept for the log lines written inside it: strings
/// share one buffer, so a span with four string fields costs two allocations, not five.
/// A later value replaces an earlier one of the same name.
/// The text buffer a freed span slot keeps for its next span, at most.
const MAX_KEPT_TEXT: usize = 1024;

#[derive(Default, Debug)]
pub(crate) struct OwnFields {
    text: String,
    entries: Vec<(&'static str, Stored)>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Stored {
    /// A range of `text`.
    Text(usize, usize),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl OwnFields {
    /// The fields of a new span; nothing is allocated for a span without fields of its own.
    #[inline]
    pub(crate) fn of(attrs: &tracing::span::Attributes<'_>) -> Self {
        let mut collected = OwnFields::default();
        collected.fill(attrs);
        collected
    }

    /// [`OwnFields::of`] into a cleared value, reusing its buffers.
    #[inline]
    pub(crate) fn fill(&mut self, attrs: &tracing::span::Attributes<'_>) {
        let fields = attrs.metadata().fields();
        if fields
            .iter()
            .any(|field| !field.name().starts_with("otel."))
        {
            self.entries.reserve(fields.len());
            attrs.record(self);
        }
    }

    /// Empties the fields, keeping buffers of a usual size for the next span.
    pub(crate) fn clear(&mut self) {
        if self.text.capacity() > MAX_KEPT_TEXT {
            self.text = String::new();
        } else {
            self.text.clear();
        }
        self.entries.clear();
    }

    fn put(&mut self, name: &'static str, value: Stored) {
        // Names of one callsite are the same `&'static str`: compare addresses first.
        let same = |existing: &&'static str| std::ptr::eq(*existing, name) || *existing == name;
        match self.entries.iter_mut().find(|(existing, _)| same(existing)) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    fn put_text(&mut self, name: &'static str, write: impl FnOnce(&mut String)) {
        if name.as_bytes().starts_with(b"otel.") {
            return;
        }
        if self.text.capacity() == 0 {
            self.text.reserve(64);
        }
        let start = self.text.len();
        write(&mut self.text);
        self.put(name, Stored::Text(start, self.text.len()));
    }

    fn put_value(&mut self, name: &'static str, value: Stored) {
        if !name.as_bytes().starts_with(b"otel.") {
            self.put(name, value);
        }
    }

    /// The fields as JSON values, for a log line.
    pub(crate) fn json(&self) -> impl Iterator<Item = (&'static str, serde_json::Value)> + '_ {
        self.entries.iter().map(|(name, value)| {
            let value = match *value {
                Stored::Text(start, end) => serde_json::Value::from(&self.text[start..end]),
                Stored::I64(v) => v.into(),
                Stored::U64(v) => v.into(),
                Stored::F64(v) => v.into(),
                Stored::Bool(v) => v.into(),
            };
            (*name, value)
        })
    }
}

impl tracing::field::Visit for OwnFields {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.put_value(field.name(), Stored::F64(value));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put_value(field.name(), Stored::I64(value));
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put_value(field.name(), Stored::U64(value));
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put_value(field.name(), Stored::Bool(value));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put_text(field.name(), |text| text.push_str(value));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put_text(field.name(), |text| {
            use std::fmt::Write as _;
            let _ = write!(text, "{value:?}");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{OwnFields, Stored};

    #[test]
    fn strings_share_a_buffer_later_values_replace_and_otel_fields_stay_out() {
        let mut fields = OwnFields::default();
        fields.put_text("http.route", |t| t.push_str("/v1/profile/{id}"));
        fields.put_text("otel.name", |t| t.push_str("GET /v1/profile/{id}"));
        fields.put_value("http.response.status_code", Stored::U64(200));
        fields.put_text("url.path", |t| t.push_str("/v1/profile/1"));
        fields.put_value("http.response.status_code", Stored::U64(503));
        fields.put_text("url.path", |t| t.push_str("/v1/profile/2"));
        fields.put_value("retry", Stored::Bool(true));
        let json: Vec<_> = fields.json().collect();
        assert_eq!(
            json,
            vec![
                ("http.route", serde_json::json!("/v1/profile/{id}")),
                ("http.response.status_code", serde_json::json!(503)),
                ("url.path", serde_json::json!("/v1/profile/2")),
                ("retry", serde_json::json!(true)),
            ]
        );
    }
}
