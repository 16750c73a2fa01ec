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
    fields: Mutex<Vec<(&'static str, serde_json::Value)>>,
    /// The span as a parent: fixed when the span starts, read without a lock.
    header: TraceParent,
    state: Mutex<SpanState>,
}

/// Collects a span's own fields (not `otel.*`) for log lines, a later value replacing an
/// earlier one of the same name.
struct OwnFields(Vec<(&'static str, serde_json::Value)>);

impl OwnFields {
    fn put(&mut self, name: &'static str, value: impl FnOnce() -> serde_json::Value) {
        if name.as_bytes().starts_with(b"otel.") {
            return;
        }
        let value = value();
        // Names of one callsite are the same `&'static str`: compare addresses first.
        let same = |existing: &&'static str| std::ptr::eq(*existing, name) || *existing == name;
        match self.0.iter_mut().find(|(existing, _)| same(existing)) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl tracing::field::Visit for OwnFields {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.put(field.name(), || value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field.name(), || value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field.name(), || value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field.name(), || value.into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field.name(), || value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field.name(), || format!("{value:?}").into());
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
            let mut collected = OwnFields(Vec::with_capacity(attrs.metadata().fields().len()));
            attrs.record(&mut collected);
            collected.0
        } else {
            Vec::new()
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
            let mut fields = slot.fields.lock().unwrap_or_else(|e| e.into_inner());
            let mut collected = OwnFields(std::mem::take(&mut *fields));
            values.record(&mut collected);
            *fields = collected.0;
            drop(fields);
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
                    span_fields.extend(
                        slot.fields
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .iter()
                            .cloned(),
                    );
                }
            }
        }
        let (message, fields) = self.log.write(
            event,
            LineContext {
                trace_id: header.map(|h| h.0),
                span_id: header.map(|h| h.1),
                span_fields: &span_fields,
            },
        );
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
