//! The span recorder: makes the head-sampling decision as a span starts and, for sampled
//! spans only, records fields, events and timestamps until the span closes, when it hands
//! the span to the export pipeline. An unsampled span costs an ID and a few bytes of
//! state (its trace context still propagates).
//!
//! Both wirings drive it: teei-obs's own subscriber and [`SpanLayer`](super::SpanLayer).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use tracing::Event;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};

use super::context::{self, TraceParent};
use super::ids;
use super::sampler::Sampler;

/// Events kept per span; later ones are counted as dropped.
const MAX_EVENTS: usize = 128;
/// Attributes kept per span or event.
const MAX_ATTRIBUTES: usize = 128;

/// The trace context of a live span, sampled or not.
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) sampled: bool,
    pub(crate) trace_state: Option<Arc<str>>,
    recording: Option<Box<Recording>>,
}

/// What a sampled span collects until it closes.
#[derive(Debug)]
struct Recording {
    redactor: crate::redact::Redactor,
    parent_span_id: u64,
    parent_is_remote: bool,
    name: Cow<'static, str>,
    kind: SpanKind,
    start: SystemTime,
    attributes: Vec<KeyValue>,
    dropped_attributes: u32,
    events: SpanEvents,
    status: Status,
}

/// Where finished sampled spans go: the export pipeline. Span recording knows this trait,
/// not the sink behind it.
pub(crate) trait SpanSink: Send + Sync + 'static {
    /// Takes a finished span; never blocks.
    fn submit(&self, span: SpanData);
}

/// What the layer and the subscriber share: the sampling decision when a span starts, and
/// the conversion of a finished sampled span for export.
#[derive(Clone)]
pub(crate) struct SpanRecorder {
    pub(super) sampler: Sampler,
    redactor: crate::redact::Redactor,
    sink: Arc<dyn SpanSink>,
    scope: opentelemetry::InstrumentationScope,
}

impl fmt::Debug for SpanRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanRecorder")
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl SpanRecorder {
    pub(crate) fn new(
        sampler: Sampler,
        sink: Arc<dyn SpanSink>,
        redactor: crate::redact::Redactor,
    ) -> Self {
        SpanRecorder {
            sampler,
            redactor,
            sink,
            scope: opentelemetry::InstrumentationScope::builder("teei-obs")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        }
    }

    /// Whether the sampler records a span of trace `trace_id` under a parent sampled or not.
    pub(crate) fn should_sample(&self, trace_id: u128, parent_sampled: Option<bool>) -> bool {
        self.sampler.should_sample(trace_id, parent_sampled)
    }

    /// The state of a new span: its parent is `local_parent`, else the remote parent of
    /// the current request scope, else none (a new trace).
    #[inline]
    pub(crate) fn start(
        &self,
        attrs: &Attributes<'_>,
        local_parent: Option<TraceParent>,
    ) -> SpanState {
        let (parent, parent_is_remote) = match local_parent {
            Some(parent) => (Some(parent), false),
            // A root span in a scope that continues a remote trace (a request, a message).
            None => match context::remote_parent() {
                Some(remote) => (Some(remote), true),
                None => (None, false),
            },
        };
        let (trace_id, span_id) = match &parent {
            Some(parent) => (parent.trace_id, ids::span_id()),
            None => ids::root_ids(),
        };
        let sampled = self
            .sampler
            .should_sample(trace_id, parent.as_ref().map(|p| p.sampled));
        let recording = sampled.then(|| {
            let metadata = attrs.metadata();
            let mut recording = Box::new(Recording {
                redactor: self.redactor.clone(),
                parent_span_id: parent.as_ref().map_or(0, |p| p.span_id),
                parent_is_remote,
                name: Cow::Borrowed(metadata.name()),
                kind: SpanKind::Internal,
                start: SystemTime::now(),
                // The code.* and request ID attributes, and one per field of the callsite:
                // no reallocation while the span records.
                attributes: Vec::with_capacity(5 + metadata.fields().len()),
                dropped_attributes: 0,
                events: SpanEvents::default(),
                status: Status::Unset,
            });
            if let Some(module) = metadata.module_path() {
                recording
                    .attributes
                    .push(KeyValue::new("code.namespace", module));
            }
            if let Some(file) = metadata.file() {
                recording
                    .attributes
                    .push(KeyValue::new("code.filepath", file));
            }
            if let Some(line) = metadata.line() {
                recording
                    .attributes
                    .push(KeyValue::new("code.lineno", i64::from(line)));
            }
            let (correlation, causation) = context::request_ids();
            if let Some(correlation) = correlation {
                recording
                    .attributes
                    .push(KeyValue::new("correlation.id", Value::from(correlation)));
            }
            if let Some(causation) = causation {
                recording
                    .attributes
                    .push(KeyValue::new("causation.id", Value::from(causation)));
            }
            attrs.record(&mut SpanVisitor(&mut recording));
            recording
        });
        SpanState {
            trace_id,
            span_id,
            sampled,
            trace_state: parent.and_then(|p| p.trace_state),
            recording,
        }
    }

    /// Hands a closed span to the pipeline if it was sampled.
    pub(crate) fn finish(&self, state: SpanState) {
        let Some(recording) = state.recording else {
            return;
        };
        let span_context = SpanContext::new(
            TraceId::from(state.trace_id),
            SpanId::from(state.span_id),
            TraceFlags::SAMPLED,
            false,
            // A key the SDK's own check refuses though the W3C grammar allows it (a
            // 14-character system ID) leaves the exported span without a trace state; it
            // still travels onward in headers.
            state
                .trace_state
                .and_then(|header| header.parse::<TraceState>().ok())
                .unwrap_or_default(),
        );
        let recording = *recording;
        self.sink.submit(SpanData {
            span_context,
            parent_span_id: SpanId::from(recording.parent_span_id),
            parent_span_is_remote: recording.parent_is_remote,
            span_kind: recording.kind,
            name: recording.name,
            start_time: recording.start,
            end_time: SystemTime::now(),
            attributes: recording.attributes,
            dropped_attributes_count: recording.dropped_attributes,
            events: recording.events,
            links: SpanLinks::default(),
            status: recording.status,
            instrumentation_scope: self.scope.clone(),
        });
    }
}

impl SpanState {
    /// Whether the span is sampled and so records until it closes.
    pub(crate) fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Moves what a closing span recorded out, leaving the IDs.
    pub(crate) fn take(&mut self) -> SpanState {
        SpanState {
            trace_id: self.trace_id,
            span_id: self.span_id,
            sampled: self.sampled,
            trace_state: self.trace_state.take(),
            recording: self.recording.take(),
        }
    }

    /// This span as the parent of another.
    pub(crate) fn as_parent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            span_id: self.span_id,
            sampled: self.sampled,
            trace_state: self.trace_state.clone(),
        }
    }

    /// Records late field values, if the span is sampled.
    pub(crate) fn record(&mut self, values: &Record<'_>) {
        if let Some(recording) = self.recording.as_mut() {
            values.record(&mut SpanVisitor(recording));
        }
    }

    /// Attaches an event, if the span is sampled.
    pub(crate) fn add_event(&mut self, event: &Event<'_>) {
        let Some(recording) = self.recording.as_mut() else {
            return;
        };
        if recording.events.events.len() >= MAX_EVENTS {
            recording.events.dropped_count += 1;
            return;
        }
        let metadata = event.metadata();
        let mut visitor = EventVisitor {
            redactor: &recording.redactor,
            name: None,
            attributes: vec![KeyValue::new("level", metadata.level().as_str())],
            dropped: 0,
            exception: false,
        };
        event.record(&mut visitor);
        // An error report is OpenTelemetry's `exception` event, its text the message.
        let name = match visitor.name {
            Some(message) if visitor.exception => {
                visitor
                    .attributes
                    .push(KeyValue::new("exception.message", message));
                Cow::Borrowed("exception")
            }
            Some(message) => Cow::Owned(message),
            None => Cow::Borrowed(metadata.name()),
        };
        recording
            .events
            .events
            .push(opentelemetry::trace::Event::new(
                name,
                SystemTime::now(),
                visitor.attributes,
                visitor.dropped,
            ));
    }
}

/// The span kind an `otel.kind` field names (`teei_obs_shared::SPAN_KINDS`, as
/// `#[traced(kind = "…")]` checks them); anything else is `internal`.
fn span_kind(name: &str) -> SpanKind {
    match name {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// Maps span fields to attributes; `otel.*` fields set the span's own properties.
struct SpanVisitor<'a>(&'a mut Recording);

impl SpanVisitor<'_> {
    fn set(&mut self, field: &Field, value: Value) {
        let recording = &mut *self.0;
        match field.name() {
            "otel.name" => {
                // A name set at run time can carry what an attribute could: redacted alike.
                let name = value.as_str();
                recording.name = Cow::Owned(if crate::redact::is_clearly_clean(&name) {
                    name.into_owned()
                } else {
                    recording.redactor.redact_text(&name).into_owned()
                });
            }
            "otel.kind" => {
                recording.kind = span_kind(&value.as_str());
            }
            "otel.status_code" => {
                recording.status = match value.as_str().as_ref() {
                    "ERROR" | "error" => match &recording.status {
                        Status::Error { .. } => recording.status.clone(),
                        _ => Status::error(""),
                    },
                    "OK" | "ok" => Status::Ok,
                    _ => Status::Unset,
                }
            }
            "otel.status_description" => {
                let description = recording.redactor.redact_text(&value.as_str()).into_owned();
                recording.status = Status::error(description);
            }
            name => {
                let value = redact_value(&recording.redactor, name, value);
                let key = Key::new(name);
                if let Some(existing) = recording.attributes.iter_mut().find(|kv| kv.key == key) {
                    existing.value = value;
                } else if recording.attributes.len() < MAX_ATTRIBUTES {
                    recording.attributes.push(KeyValue::new(key, value));
                } else {
                    recording.dropped_attributes += 1;
                }
            }
        }
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        // The `otel.*` fields set span properties: no attribute, no allocation.
        match field.name() {
            "otel.kind" => {
                self.0.kind = span_kind(value);
            }
            _ => self.set(field, Value::String(value.to_owned().into())),
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Value::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(
            field,
            i64::try_from(value)
                .map_or_else(|_| Value::String(value.to_string().into()), Value::I64),
        );
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Value::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, Value::String(format!("{value:?}").into()));
    }
}

/// Maps event fields to event attributes; `message` becomes the event's name.
struct EventVisitor<'a> {
    redactor: &'a crate::redact::Redactor,
    name: Option<String>,
    attributes: Vec<KeyValue>,
    dropped: u32,
    /// An `error.type` field: the event is an error report, OpenTelemetry's `exception`.
    exception: bool,
}

impl EventVisitor<'_> {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.name = Some(self.redactor.redact_text(&value.as_str()).into_owned());
        } else if field.name() == "error.type" {
            self.exception = true;
            self.attributes.push(KeyValue::new("exception.type", value));
        } else if self.attributes.len() < MAX_ATTRIBUTES {
            let value = redact_value(self.redactor, field.name(), value);
            self.attributes.push(KeyValue::new(field.name(), value));
        } else {
            self.dropped += 1;
        }
    }
}

impl Visit for EventVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::String(value.to_owned().into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::String(format!("{value:?}").into()));
    }
}

/// The value an attribute may leave the process with.
fn redact_value(redactor: &crate::redact::Redactor, key: &'static str, value: Value) -> Value {
    if redactor.is_sensitive_name(key) {
        return Value::from(crate::redact::REDACTED);
    }
    match value {
        Value::String(text) if crate::redact::is_clearly_clean(text.as_str()) => {
            Value::String(text)
        }
        Value::String(text) => match redactor.redact_text(text.as_str()) {
            Cow::Borrowed(_) => Value::String(text),
            Cow::Owned(redacted) => Value::from(redacted),
        },
        other => other,
    }
}
