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

struct Slot {
    refs: AtomicUsize,
    metadata: &'static Metadata<'static>,
    /// The span as a parent: fixed when the span starts, read without a lock.
    header: TraceParent,
    state: Mutex<SpanState>,
}

/// The subscriber [`init`](crate::init) installs: a `RUST_LOG`-style level filter and
/// teei-obs spans, with head sampling decided as each span starts.
pub struct TeeiSubscriber {
    core: Core,
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
    pub(crate) fn new(core: Core, filter: Targets) -> Self {
        let max_level = filter
            .iter()
            .map(|(_, level)| level)
            .chain(filter.default_level())
            .max()
            .unwrap_or(LevelFilter::OFF);
        TeeiSubscriber {
            core,
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
        let slot = Slot {
            refs: AtomicUsize::new(1),
            metadata: attrs.metadata(),
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
        let trace_id = span
            .as_ref()
            .and_then(|id| self.slot(id))
            .map(|slot| slot.header.trace_id);
        write_log_line(event, trace_id);
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

/// One plain line per event on standard error: time, level, target, message, fields, and
/// the trace and correlation IDs when there are any.
fn write_log_line(event: &Event<'_>, trace_id: Option<u128>) {
    use std::fmt::Write as _;
    use std::io::Write as _;

    struct Fields(String, String);
    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.0, "{value:?}");
            } else {
                let _ = write!(self.1, " {}={value:?}", field.name());
            }
        }
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            if field.name() == "message" {
                self.0.push_str(value);
            } else {
                let _ = write!(self.1, " {}={value:?}", field.name());
            }
        }
    }
    let metadata = event.metadata();
    let mut fields = Fields(String::new(), String::new());
    event.record(&mut fields);
    let mut line = format!(
        "{} {:>5} {}: {}{}",
        crate::health::rfc3339(std::time::SystemTime::now()),
        metadata.level(),
        metadata.target(),
        fields.0,
        fields.1
    );
    if let Some(trace_id) = trace_id {
        let _ = write!(line, " trace_id={trace_id:032x}");
    }
    if let Some(correlation) = super::correlation_id() {
        let _ = write!(line, " correlation_id={correlation}");
    }
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
