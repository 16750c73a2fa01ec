//! The tracing layer that turns `tracing` spans into OpenTelemetry spans.
//!
//! Unlike a layer that builds every span and lets the SDK sample it at the end, this one
//! makes the head-sampling decision when the span starts. An unsampled span costs an ID
//! and a few bytes of state (its trace context still propagates); only sampled spans
//! record fields, events and timestamps, and are handed to the export pipeline when they
//! close.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

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
pub(crate) struct Core {
    sampler: Sampler,
    redactor: crate::redact::Redactor,
    sink: Arc<dyn SpanSink>,
    scope: opentelemetry::InstrumentationScope,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl Core {
    pub(crate) fn new(
        sampler: Sampler,
        sink: Arc<dyn SpanSink>,
        redactor: crate::redact::Redactor,
    ) -> Self {
        Core {
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
        let trace_id = parent
            .as_ref()
            .map_or_else(ids::root_trace_id, |p| p.trace_id);
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
                attributes: Vec::with_capacity(8),
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
                    .push(KeyValue::new("correlation.id", correlation.to_string()));
            }
            if let Some(causation) = causation {
                recording
                    .attributes
                    .push(KeyValue::new("causation.id", causation.to_string()));
            }
            attrs.record(&mut SpanVisitor(&mut recording));
            recording
        });
        SpanState {
            trace_id,
            span_id: ids::span_id(),
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

/// The `Registry` a layer runs on, kept from `on_register_dispatch`: a layer behind a
/// per-layer filter sees only the spans its filter enables, but an event's trace is that
/// of the nearest *traced* span, which the log filter may well have left out.
#[derive(Clone, Debug, Default)]
pub(crate) struct RegistryHandle(std::sync::OnceLock<tracing::dispatcher::WeakDispatch>);

impl RegistryHandle {
    pub(crate) fn register(&self, dispatch: &tracing::Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }

    /// The trace and span ID of the nearest recorded span around `event`.
    pub(crate) fn trace_ids<S>(
        &self,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
    ) -> Option<(u128, u64)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if event.is_root() {
            return None;
        }
        let id = match event.parent() {
            Some(parent) => parent.clone(),
            None => ctx.current_span().id()?.clone(),
        };
        let dispatch = self.0.get()?.upgrade()?;
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(&id)?;
        span.scope().find_map(|span| {
            span.extensions()
                .get::<SpanState>()
                .map(|state| (state.trace_id, state.span_id))
        })
    }
}

/// teei-obs's sinks as one layer: a `Vec` of filtered layers (which combines their level
/// hints correctly) that also hands each of them the dispatcher it is registered with
/// (which `Vec` does not, and which the log and Sentry layers need to find an event's
/// trace).
pub(crate) struct Sinks<S>(Vec<Box<dyn Layer<S> + Send + Sync + 'static>>);

impl<S> Sinks<S> {
    pub(crate) fn new(layers: Vec<Box<dyn Layer<S> + Send + Sync + 'static>>) -> Self {
        Sinks(layers)
    }
}

impl<S> Layer<S> for Sinks<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        for layer in &self.0 {
            layer.on_register_dispatch(subscriber);
        }
    }
    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.0.register_callsite(metadata)
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.0.enabled(metadata, ctx)
    }
    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.0.event_enabled(event, ctx)
    }
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.0.on_new_span(attrs, id, ctx);
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.0.max_level_hint()
    }
    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.0.on_record(span, values, ctx);
    }
    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.0.on_follows_from(span, follows, ctx);
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.0.on_event(event, ctx);
    }
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }
    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.0.on_close(id, ctx);
    }
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: forwarded to the `Vec`, which upholds the contract (the per-layer filter
        // marker among the types it answers for).
        unsafe { self.0.downcast_raw(id) }
    }
}

/// The layer, for composing teei-obs spans into a `tracing_subscriber::Registry` of your
/// own (with other layers). [`init`](crate::init) installs a leaner subscriber of its own
/// instead: see [`TeeiSubscriber`](super::TeeiSubscriber).
#[derive(Clone)]
pub struct OtelLayer {
    core: Core,
}

impl fmt::Debug for OtelLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelLayer")
            .field("sampler", &self.core.sampler)
            .finish_non_exhaustive()
    }
}

impl OtelLayer {
    pub(crate) fn new(core: Core) -> Self {
        OtelLayer { core }
    }
}

impl<S> Layer<S> for OtelLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let local_parent = span.parent().and_then(|parent| {
            parent
                .extensions()
                .get::<SpanState>()
                .map(SpanState::as_parent)
        });
        let state = self.core.start(attrs, local_parent);
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(state) = span.extensions_mut().get_mut::<SpanState>()
        {
            state.record(values);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.event_span(event)
            && let Some(state) = span.extensions_mut().get_mut::<SpanState>()
        {
            state.add_event(event);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        // The innermost sampled span of the thread, for metric exemplars.
        if let Some(span) = ctx.span(id)
            && let Some(state) = span.extensions().get::<SpanState>()
            && state.is_recording()
        {
            crate::metrics::exemplar::set_sampled(Some((state.trace_id, state.span_id)));
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(current) = crate::metrics::exemplar::sampled() else {
            return;
        };
        let Some(span) = ctx.span(id) else { return };
        let leaving = span
            .extensions()
            .get::<SpanState>()
            .map(|state| (state.trace_id, state.span_id));
        if leaving == Some(current) {
            // The next sampled span out takes over: the parents, nearest first.
            let next = span.scope().skip(1).find_map(|parent| {
                let extensions = parent.extensions();
                let state = extensions.get::<SpanState>()?;
                state
                    .is_recording()
                    .then_some((state.trace_id, state.span_id))
            });
            crate::metrics::exemplar::set_sampled(next);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        super::reports::forget(&id);
        if let Some(span) = ctx.span(&id)
            && let Some(state) = span.extensions_mut().remove::<SpanState>()
        {
            self.core.finish(state);
        }
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
            "otel.name" => recording.name = Cow::Owned(value.as_str().into_owned()),
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
        Value::String(text) => match redactor.redact_text(text.as_str()) {
            Cow::Borrowed(_) => Value::String(text),
            Cow::Owned(redacted) => Value::from(redacted),
        },
        other => other,
    }
}
