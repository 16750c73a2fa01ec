//! The fast form of [`TeeiSubscriber`]: a pool of spans keeping what their trace context
//! and log lines need, two plain filters, and the sinks.

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use thread_local::ThreadLocal;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata};
use tracing_core::span::Current;
use tracing_subscriber::filter::LevelFilter;

#[cfg(feature = "sentry")]
use super::SentryStore;
use super::{PlainFilter, ServerSpan};
use crate::log::LogOutput;
use crate::trace::context::TraceParent;
use crate::trace::fields::OwnFields;
use crate::trace::recorder::{SpanRecorder, SpanState};

/// What the subscriber keeps of a live span.
///
/// Slots live in a pool and are reset in place when their span closes, so opening a span
/// moves nothing into the pool and closing one moves nothing out (a slab's `insert` and
/// `take` copied the whole slot both ways), and a span's field buffers are reused.
#[derive(Default)]
struct Slot {
    refs: AtomicUsize,
    /// `None` only while the slot is free.
    metadata: Option<&'static Metadata<'static>>,
    /// Whether the log filter lets the span through: only then do its fields go into lines.
    logged: bool,
    /// The span's own fields (not `otel.*`), for log lines; empty for most spans.
    fields: Mutex<OwnFields>,
    /// The trace context its children and its log lines take: its own when the span is
    /// traced, its parent's when only the log filter enabled it.
    header: Option<TraceParent>,
    /// Whether the traces filter lets the span through.
    traced: bool,
    /// What a sampled span records until it closes (unsampled spans keep nothing here:
    /// their trace context is the header).
    state: Option<Mutex<SpanState>>,
    /// The span it was opened in, then that span's parent and so on, nearest first (not
    /// kept open by it: look one up before use). A span that closes holding reports hands
    /// them to the nearest still open, so a task that outlives the function that spawned
    /// it still reaches that function's caller.
    ancestors: Ancestors,
}

/// How many ancestors a span remembers: for a spawned task's span, the function that
/// spawned it and three levels of its callers that may have returned before the task ended.
const ANCESTORS: usize = 4;

type Ancestors = [Option<Id>; ANCESTORS];

impl sharded_slab::Clear for Slot {
    fn clear(&mut self) {
        self.metadata = None;
        self.fields
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.header = None;
        self.state = None;
        // `ancestors` are IDs only: the next span's creation overwrites them.
    }
}

/// The bit of a span ID that marks a sampled span: the pool's one reserved bit, which its
/// keys never use (its generation counter takes the high bits otherwise).
const SAMPLED_BIT: u64 = 1 << 63;

/// The pool's layout: the default, with the top bit of every key left to us.
struct SlabConfig;

impl sharded_slab::Config for SlabConfig {
    const RESERVED_BITS: usize = 1;
}

/// The pool key of a span ID.
fn slab_key(id: &Id) -> u64 {
    (id.into_u64() & !SAMPLED_BIT) - 1
}

/// The fast form: a pool of spans, two plain filters.
pub(super) struct Fast {
    pub(super) core: SpanRecorder,
    pub(super) log: LogOutput,
    pub(super) log_filter: PlainFilter,
    pub(super) traces_filter: PlainFilter,
    pub(super) max_level: LevelFilter,
    spans: sharded_slab::Pool<Slot, SlabConfig>,
    stacks: ThreadLocal<RefCell<Vec<Id>>>,
    /// Where Sentry events go instead of the SDK, in a test capture.
    #[cfg(feature = "sentry")]
    pub(super) sentry_capture: Option<SentryStore>,
}

impl Fast {
    pub(super) fn new(
        core: SpanRecorder,
        log: LogOutput,
        log_filter: PlainFilter,
        traces_filter: PlainFilter,
    ) -> Self {
        let max_level = log_filter.max_level().max(traces_filter.max_level());
        Fast {
            core,
            log,
            log_filter,
            traces_filter,
            max_level,
            spans: sharded_slab::Pool::new_with_config::<SlabConfig>(),
            stacks: ThreadLocal::new(),
            #[cfg(feature = "sentry")]
            sentry_capture: None,
        }
    }

    pub(super) fn plan_server_span(
        &self,
        remote: Option<&TraceParent>,
        target: &str,
    ) -> ServerSpan {
        let level = tracing::Level::INFO;
        if !self.traces_filter.would_enable(target, &level) {
            return ServerSpan::Recorded;
        }
        let trace_id = remote.map_or_else(crate::trace::ids::trace_id, |p| p.trace_id);
        if self
            .core
            .should_sample(trace_id, remote.map(|parent| parent.sampled))
        {
            if remote.is_none() {
                crate::trace::ids::preset_root_trace_id(trace_id);
            }
            return ServerSpan::Recorded;
        }
        ServerSpan::Unrecorded {
            span: TraceParent {
                trace_id,
                span_id: crate::trace::ids::span_id(),
                sampled: false,
                trace_state: remote.and_then(|parent| parent.trace_state.clone()),
            },
            logged: self.log_filter.would_enable(target, &level),
        }
    }

    fn slot(&self, id: &Id) -> Option<sharded_slab::pool::Ref<'_, Slot, SlabConfig>> {
        usize::try_from(slab_key(id))
            .ok()
            .and_then(|key| self.spans.get(key))
    }

    /// The trace context of span `id` as a parent, if it is a live span with one.
    pub(super) fn parent_of(&self, id: &Id) -> Option<TraceParent> {
        self.slot(id).and_then(|slot| slot.header.clone())
    }

    /// A child's view of live span `id`: its trace context, and the child's ancestors
    /// (`id`, then `id`'s own, nearest first). Nothing when `id` is not live.
    fn lineage(&self, id: Id) -> (Option<TraceParent>, Ancestors) {
        let Some(slot) = self.slot(&id) else {
            return (None, Default::default());
        };
        let [a, b, c, _] = &slot.ancestors;
        (
            slot.header.clone(),
            [Some(id), a.clone(), b.clone(), c.clone()],
        )
    }

    fn current_id(&self) -> Option<Id> {
        self.stacks
            .get()
            .and_then(|stack| stack.borrow().last().cloned())
    }

    pub(super) fn wanted(&self, metadata: &Metadata<'_>) -> bool {
        self.log_filter
            .would_enable(metadata.target(), metadata.level())
            || self
                .traces_filter
                .would_enable(metadata.target(), metadata.level())
    }

    pub(super) fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let metadata = attrs.metadata();
        let traced = self
            .traces_filter
            .would_enable(metadata.target(), metadata.level());
        let logged = self
            .log_filter
            .would_enable(metadata.target(), metadata.level());
        let parent_id = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            Some(parent.clone())
        } else {
            self.current_id()
        };
        let (parent, mut ancestors) = match parent_id {
            Some(id) => self.lineage(id),
            None => (None, Default::default()),
        };
        let (mut header, mut state) = if traced {
            let state = self.core.start(attrs, parent);
            let header = Some(state.as_parent());
            (header, state.is_recording().then(|| Mutex::new(state)))
        } else {
            // Not traced: transparent, its children continue its parent's trace.
            (parent, None)
        };
        // A sampled span says so in its ID: entering an unsampled one looks nothing up.
        let sampled = if state.is_some() { SAMPLED_BIT } else { 0 };
        let key = self.spans.create_with(|slot| {
            *slot.refs.get_mut() = 1;
            slot.metadata = Some(metadata);
            slot.logged = logged;
            // Only spans with fields of their own, that reach log lines, keep them.
            if logged {
                slot.fields
                    .get_mut()
                    .unwrap_or_else(|e| e.into_inner())
                    .fill(attrs);
            }
            // Taken through references: moving them into the closure would copy them twice.
            slot.header = header.take();
            slot.traced = traced;
            slot.state = state.take();
            slot.ancestors = std::mem::take(&mut ancestors);
        });
        match key {
            Some(key) => Id::from_u64((key as u64 + 1) | sampled),
            // The pool is full (billions of live spans): this span is not stored.
            None => Id::from_u64(u64::MAX),
        }
    }

    pub(super) fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(slot) = self.slot(span) {
            if slot.logged {
                values.record(&mut *slot.fields.lock().unwrap_or_else(|e| e.into_inner()));
            }
            if let Some(state) = &slot.state {
                state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .record(values);
            }
        }
    }

    pub(super) fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let span = if event.is_root() {
            None
        } else if let Some(parent) = event.parent() {
            Some(parent.clone())
        } else {
            self.current_id()
        };
        if metadata.target() != crate::trace::PANIC_TARGET
            && self
                .log_filter
                .would_enable(metadata.target(), metadata.level())
        {
            self.log_line(event, span.as_ref());
        }
        if self
            .traces_filter
            .would_enable(metadata.target(), metadata.level())
        {
            self.attach(event, span);
        }
    }

    /// Writes `event`'s log line (and, at ERROR, its Sentry event) with the trace context
    /// of `span` and the fields of the logged spans around it.
    #[inline]
    fn log_line(&self, event: &Event<'_>, span: Option<&Id>) {
        let header = span
            .and_then(|id| self.slot(id))
            .and_then(|slot| slot.header.as_ref().map(|h| (h.trace_id, h.span_id)));
        // The fields of the logged spans entered on this thread, outermost first, and
        // of an explicit parent that is not entered (an event emitted as a span closes).
        let mut span_fields = Vec::new();
        // Span names only for what can become a Sentry event: no allocation per line.
        #[cfg(feature = "sentry")]
        let wants_names = *event.metadata().level() == tracing::Level::ERROR;
        #[cfg(feature = "sentry")]
        let mut span_names = Vec::new();
        // A request whose server span was not recorded: outermost, as that span would be.
        let server = crate::trace::context::with_unrecorded_server(|server| {
            #[cfg(feature = "sentry")]
            if wants_names {
                span_names.push(crate::trace::context::UnrecordedServer::NAME);
            }
            if server.logged {
                span_fields.extend(server.fields());
            }
            (server.span.trace_id, server.span.span_id)
        });
        let header = header.or(server);
        let mut add = |id: &Id| {
            if let Some(slot) = self.slot(id) {
                #[cfg(feature = "sentry")]
                if wants_names {
                    span_names.extend(slot.metadata.map(Metadata::name));
                }
                if slot.logged {
                    span_fields
                        .extend(slot.fields.lock().unwrap_or_else(|e| e.into_inner()).json());
                }
            }
        };
        let mut parent_entered = false;
        if let Some(stack) = self.stacks.get() {
            for id in stack.borrow().iter() {
                parent_entered |= event.parent() == Some(id);
                add(id);
            }
        }
        if let Some(parent) = event.parent()
            && !parent_entered
        {
            add(parent);
        }
        #[cfg_attr(not(feature = "sentry"), allow(unused_mut))]
        let mut prepared = self.log.prepare(event, &span_fields);
        #[cfg(feature = "sentry")]
        {
            prepared.span_names = span_names;
        }
        self.log
            .write(&prepared, header.map(|h| h.0), header.map(|h| h.1));
        #[cfg(feature = "sentry")]
        self.report(&prepared, header);
    }

    /// Hands an event's line to error tracking: to the test capture when there is one.
    #[cfg(feature = "sentry")]
    #[inline]
    fn report(&self, prepared: &crate::trace::fields::Prepared, header: Option<(u128, u64)>) {
        match &self.sentry_capture {
            Some(store) => {
                if let Some(sentry_event) = crate::error_tracking::event_for(prepared, header)
                    && let Ok(json) = serde_json::to_value(&sentry_event)
                {
                    store.lock().unwrap_or_else(|e| e.into_inner()).push(json);
                }
            }
            None if crate::error_tracking::enabled() => {
                crate::error_tracking::observe(prepared, header)
            }
            None => {}
        }
    }

    /// Adds `event` to the nearest traced span, if that one is sampled.
    fn attach(&self, event: &Event<'_>, span: Option<Id>) {
        let traced = match (event.parent(), span) {
            (Some(parent), _) => self.slot(parent).filter(|slot| slot.traced),
            (None, Some(_)) => self.stacks.get().and_then(|stack| {
                stack
                    .borrow()
                    .iter()
                    .rev()
                    .find_map(|id| self.slot(id).filter(|slot| slot.traced))
            }),
            (None, None) => None,
        };
        if let Some(slot) = traced
            && let Some(state) = &slot.state
        {
            state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add_event(event);
        }
    }

    pub(super) fn enter(&self, span: &Id) {
        self.stacks.get_or_default().borrow_mut().push(span.clone());
        // The innermost sampled span of the thread, for metric exemplars.
        if let Some(ids) = self.sampled_ids(span) {
            crate::metrics::exemplar::set_sampled(Some(ids));
        }
    }

    pub(super) fn exit(&self, span: &Id) {
        if let Some(stack) = self.stacks.get() {
            let mut stack = stack.borrow_mut();
            // Usually the innermost: a pop, not a `remove` (which calls `memmove`).
            if stack.last() == Some(span) {
                stack.pop();
            } else if let Some(position) = stack.iter().rposition(|entered| entered == span) {
                stack.remove(position);
            }
            // Leaving a sampled span: the next sampled one out takes over. An unsampled
            // span (its ID says so) costs a bit test, nothing more.
            if span.into_u64() & SAMPLED_BIT != 0
                && let Some(current) = crate::metrics::exemplar::sampled()
                && self.sampled_ids(span) == Some(current)
            {
                let next = stack.iter().rev().find_map(|id| self.sampled_ids(id));
                crate::metrics::exemplar::set_sampled(next);
            }
        }
    }

    /// The trace and span IDs of `span` if it is sampled (recording).
    fn sampled_ids(&self, span: &Id) -> Option<(u128, u64)> {
        if span.into_u64() & SAMPLED_BIT == 0 {
            return None;
        }
        let slot = self.slot(span)?;
        let header = slot.header.as_ref().filter(|_| slot.state.is_some())?;
        Some((header.trace_id, header.span_id))
    }

    pub(super) fn clone_span(&self, id: &Id) -> Id {
        if let Some(slot) = self.slot(id) {
            slot.refs.fetch_add(1, Ordering::Relaxed);
        }
        id.clone()
    }

    pub(super) fn try_close(&self, id: Id) -> bool {
        let Some(slot) = self.slot(&id) else {
            return false;
        };
        if slot.refs.fetch_sub(1, Ordering::AcqRel) != 1 {
            return false;
        }
        // The nearest ancestor still open.
        crate::trace::reports::close(&id, || {
            slot.ancestors
                .iter()
                .flatten()
                .find(|ancestor| self.slot(ancestor).is_some())
                .cloned()
        });
        // The last handle: nothing else reads the state now.
        let finished = slot
            .state
            .as_ref()
            .map(|state| state.lock().unwrap_or_else(|e| e.into_inner()).take());
        drop(slot);
        if let Ok(key) = usize::try_from(slab_key(&id)) {
            self.spans.clear(key);
        }
        if let Some(state) = finished {
            self.core.finish(state);
        }
        true
    }

    pub(super) fn current_span(&self) -> Current {
        match self
            .current_id()
            .and_then(|id| self.slot(&id).and_then(|slot| Some((id, slot.metadata?))))
        {
            Some((id, metadata)) => Current::new(id, metadata),
            None => Current::none(),
        }
    }
}
