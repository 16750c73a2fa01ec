//! A lean `tracing` subscriber: the span store teei-obs needs and nothing more.
//!
//! `tracing_subscriber::Registry` keeps a type map of extensions for every span, behind a
//! lock, for any layer that may want one; on this machine it alone costs about 130 ns per
//! span. This subscriber keeps exactly what a span's trace context needs in a slab slot
//! and skips the rest, which is what makes an unsampled span cheap. [`OtelLayer`] remains
//! for composing with other layers on a `Registry`.
//!
//! [`OtelLayer`]: super::OtelLayer

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use thread_local::ThreadLocal;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;
use tracing_subscriber::filter::{LevelFilter, Targets};

use super::layer::{Core, SpanState};
use super::propagation::TraceParent;
use crate::log::{LineContext, LogOutput};

struct Slot {
    refs: AtomicUsize,
    metadata: &'static Metadata<'static>,
    /// The span's own fields (not `otel.*`), for log lines; empty for most spans.
    fields: Mutex<OwnFields>,
    /// The span as a parent: fixed when the span starts, read without a lock.
    header: TraceParent,
    state: Mutex<SpanState>,
}

/// A span's own fields (not `otel.*`), kept for the log lines written inside it: strings
/// share one buffer, so a span with four string fields costs two allocations, not five.
/// A later value replaces an earlier one of the same name.
#[derive(Default)]
struct OwnFields {
    text: String,
    entries: Vec<(&'static str, Stored)>,
}

#[derive(Clone, Copy)]
enum Stored {
    /// A range of `text`.
    Text(usize, usize),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl OwnFields {
    fn with_capacity(fields: usize) -> Self {
        OwnFields {
            // Allocated with the first text value: numbers need no buffer.
            text: String::new(),
            entries: Vec::with_capacity(fields),
        }
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
    fn json(&self) -> impl Iterator<Item = (&'static str, serde_json::Value)> + '_ {
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

/// The subscriber [`init`](crate::init) installs: a `RUST_LOG`-style level filter and
/// teei-obs spans, with head sampling decided as each span starts.
pub struct TeeiSubscriber {
    core: Core,
    log: LogOutput,
    filter: Targets,
    max_level: LevelFilter,
    spans: sharded_slab::Slab<Slot>,
    stacks: ThreadLocal<RefCell<Vec<Id>>>,
}

impl std::fmt::Debug for TeeiSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeeiSubscriber")
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl TeeiSubscriber {
    pub(crate) fn new(core: Core, filter: Targets, log: LogOutput) -> Self {
        let max_level = filter
            .iter()
            .map(|(_, level)| level)
            .chain(filter.default_level())
            .max()
            .unwrap_or(LevelFilter::OFF);
        TeeiSubscriber {
            core,
            log,
            filter,
            max_level,
            spans: sharded_slab::Slab::new(),
            stacks: ThreadLocal::new(),
        }
    }

    fn slot(&self, id: &Id) -> Option<sharded_slab::Entry<'_, Slot>> {
        usize::try_from(id.into_u64() - 1)
            .ok()
            .and_then(|key| self.spans.get(key))
    }

    /// The trace context of span `id`, if it is one of this subscriber's live spans.
    pub(crate) fn parent_of(&self, id: &Id) -> Option<TraceParent> {
        self.slot(id).map(|slot| slot.header.clone())
    }

    fn current_id(&self) -> Option<Id> {
        self.stacks
            .get()
            .and_then(|stack| stack.borrow().last().cloned())
    }
}

impl Subscriber for TeeiSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self
            .filter
            .would_enable(metadata.target(), metadata.level())
        {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter
            .would_enable(metadata.target(), metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            self.parent_of(parent)
        } else {
            self.current_id().and_then(|id| self.parent_of(&id))
        };
        let state = self.core.start(attrs, parent);
        // Only spans with fields of their own pay for keeping them.
        let own_fields = attrs
            .metadata()
            .fields()
            .iter()
            .any(|field| !field.name().starts_with("otel."));
        let fields = if own_fields {
            let mut collected = OwnFields::with_capacity(attrs.metadata().fields().len());
            attrs.record(&mut collected);
            collected
        } else {
            OwnFields::default()
        };
        let slot = Slot {
            refs: AtomicUsize::new(1),
            metadata: attrs.metadata(),
            fields: Mutex::new(fields),
            header: state.as_parent(),
            state: Mutex::new(state),
        };
        match self.spans.insert(slot) {
            Some(key) => Id::from_u64(key as u64 + 1),
            // The slab is full (billions of live spans): this span is not stored.
            None => Id::from_u64(u64::MAX),
        }
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(slot) = self.slot(span) {
            values.record(&mut *slot.fields.lock().unwrap_or_else(|e| e.into_inner()));
            slot.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(values);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let span = if event.is_root() {
            None
        } else if let Some(parent) = event.parent() {
            Some(parent.clone())
        } else {
            self.current_id()
        };
        let header = span
            .as_ref()
            .and_then(|id| self.slot(id))
            .map(|slot| (slot.header.trace_id, slot.header.span_id));
        // The fields of the spans entered on this thread, outermost first.
        let mut span_fields = Vec::new();
        if let Some(stack) = self.stacks.get() {
            for id in stack.borrow().iter() {
                if let Some(slot) = self.slot(id) {
                    span_fields
                        .extend(slot.fields.lock().unwrap_or_else(|e| e.into_inner()).json());
                }
            }
        }
        #[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
        let (message, fields) = self.log.write(
            event,
            LineContext {
                trace_id: header.map(|h| h.0),
                span_id: header.map(|h| h.1),
                span_fields: &span_fields,
            },
        );
        #[cfg(feature = "sentry")]
        if crate::errors::enabled() {
            let metadata = event.metadata();
            crate::errors::observe(
                *metadata.level(),
                metadata.target(),
                &message,
                &fields,
                header.map(|h| h.0),
            );
        }
        if let Some(slot) = span.as_ref().and_then(|id| self.slot(id))
            && slot.header.sampled
        {
            slot.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add_event(event);
        }
    }

    fn enter(&self, span: &Id) {
        self.stacks.get_or_default().borrow_mut().push(span.clone());
    }

    fn exit(&self, span: &Id) {
        if let Some(stack) = self.stacks.get() {
            let mut stack = stack.borrow_mut();
            if let Some(position) = stack.iter().rposition(|entered| entered == span) {
                stack.remove(position);
            }
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(slot) = self.slot(id) {
            slot.refs.fetch_add(1, Ordering::Relaxed);
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let Some(slot) = self.slot(&id) else {
            return false;
        };
        if slot.refs.fetch_sub(1, Ordering::AcqRel) != 1 {
            return false;
        }
        drop(slot);
        let Some(slot) = usize::try_from(id.into_u64() - 1)
            .ok()
            .and_then(|key| self.spans.take(key))
        else {
            return false;
        };
        self.core
            .finish(slot.state.into_inner().unwrap_or_else(|e| e.into_inner()));
        true
    }

    fn current_span(&self) -> Current {
        match self
            .current_id()
            .and_then(|id| self.slot(&id).map(|slot| (id, slot.metadata)))
        {
            Some((id, metadata)) => Current::new(id, metadata),
            None => Current::none(),
        }
    }
}

#[cfg(test)]
mod own_fields_tests {
    use super::{OwnFields, Stored};

    #[test]
    fn strings_share_a_buffer_later_values_replace_and_otel_fields_stay_out() {
        let mut fields = OwnFields::with_capacity(4);
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
