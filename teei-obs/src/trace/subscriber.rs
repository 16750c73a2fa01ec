//! A lean `tracing` subscriber: the span store teei-obs needs and nothing more.
//!
//! `tracing_subscriber::Registry` keeps a type map of extensions for every span, behind a
//! lock, for any layer that may want one; on this machine it alone costs about 130 ns per
//! span. The fast form of this subscriber keeps exactly what a span's trace context and
//! its log lines need in a slab slot and skips the rest, which is what makes an unsampled
//! span cheap. It runs the same sinks as the layers do — [`Core`] for spans,
//! [`LogOutput`] for lines, the Sentry capture — so the two wirings cannot drift.
//!
//! When `RUST_LOG` holds directives only `EnvFilter` can evaluate (span and field
//! filters), the subscriber is a `Registry` with teei-obs's layers instead
//! ([`Obs::layers`](crate::Obs::layers)): slower, and exact.

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use thread_local::ThreadLocal;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;

/// The Sentry events a test capture keeps, as the SDK's JSON.
#[cfg(feature = "sentry")]
pub(crate) type SentryStore = std::sync::Arc<Mutex<Vec<serde_json::Value>>>;

use super::context::TraceParent;
use super::fields::OwnFields;
use super::layer::{Core, SpanState};
use crate::log::LogOutput;

struct Slot {
    refs: AtomicUsize,
    metadata: &'static Metadata<'static>,
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
}

/// The subscriber [`init`](crate::init) installs: teei-obs's spans, log lines and Sentry
/// capture, with what is logged (`RUST_LOG`) and what is traced (`OTEL_TRACES_FILTER`)
/// decided apart, and head sampling decided as each span starts.
pub struct TeeiSubscriber(Inner);

// Built once and kept behind the dispatcher's `Arc`: its size costs nothing, while a box
// around the fast form would add a pointer chase to every span and event.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Fast(Fast),
    Composed(Box<dyn Subscriber + Send + Sync>),
}

impl std::fmt::Debug for TeeiSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Fast(fast) => f
                .debug_struct("TeeiSubscriber")
                .field("log", &fast.log_filter)
                .field("traces", &fast.traces_filter)
                .finish_non_exhaustive(),
            Inner::Composed(_) => f.write_str("TeeiSubscriber(Registry with teei-obs layers)"),
        }
    }
}

impl TeeiSubscriber {
    /// The fast form, for plain `target=level` log directives.
    pub(crate) fn fast(
        core: Core,
        log_filter: Targets,
        traces_filter: Targets,
        log: LogOutput,
    ) -> Self {
        let max_level =
            super::filter::max_level(&log_filter).max(super::filter::max_level(&traces_filter));
        TeeiSubscriber(Inner::Fast(Fast {
            core,
            log,
            log_filter: PlainFilter::new(log_filter),
            traces_filter: PlainFilter::new(traces_filter),
            max_level,
            spans: sharded_slab::Slab::new_with_config::<SlabConfig>(),
            stacks: ThreadLocal::new(),
            #[cfg(feature = "sentry")]
            sentry_capture: None,
        }))
    }

    /// The fast form, keeping what it would send to Sentry in `store` instead (as JSON):
    /// for [`testing`](crate::testing).
    #[cfg(all(feature = "sentry", feature = "testing"))]
    pub(crate) fn capturing_sentry(mut self, store: SentryStore) -> Self {
        if let Inner::Fast(fast) = &mut self.0 {
            fast.sentry_capture = Some(store);
        }
        self
    }

    /// Where a [`testing`](crate::testing) capture on this thread keeps Sentry events, with
    /// its redaction policy; `None` outside one.
    #[cfg(all(feature = "sentry", feature = "testing"))]
    pub(crate) fn sentry_capture() -> Option<(SentryStore, crate::redact::Redactor)> {
        tracing::dispatcher::get_default(|dispatch| {
            let TeeiSubscriber(Inner::Fast(fast)) = dispatch.downcast_ref::<TeeiSubscriber>()?
            else {
                return None;
            };
            let store = fast.sentry_capture.clone()?;
            Some((store, fast.log.redactor.clone()))
        })
    }

    /// A `Registry` with teei-obs's layers, for log directives only `EnvFilter` evaluates.
    pub(crate) fn composed(subscriber: Box<dyn Subscriber + Send + Sync>) -> Self {
        TeeiSubscriber(Inner::Composed(subscriber))
    }
}

/// A `Targets` filter, reduced to one level comparison when it has no per-target
/// directive (`info`, `warn`: the usual case), since it is asked twice for every span.
#[derive(Debug)]
struct PlainFilter {
    level_only: Option<LevelFilter>,
    targets: Targets,
}

impl PlainFilter {
    fn new(targets: Targets) -> Self {
        let level_only = targets
            .iter()
            .next()
            .is_none()
            .then(|| targets.default_level().unwrap_or(LevelFilter::OFF));
        PlainFilter {
            level_only,
            targets,
        }
    }

    #[inline]
    fn would_enable(&self, target: &str, level: &tracing::Level) -> bool {
        match self.level_only {
            Some(max) => max >= *level,
            None => self.targets.would_enable(target, level),
        }
    }
}

/// The bit of a span ID that marks a sampled span: the slab's one reserved bit, which its
/// keys never use (its generation counter takes the high bits otherwise).
const SAMPLED_BIT: u64 = 1 << 63;

/// The slab's layout: the default, with the top bit of every key left to us.
struct SlabConfig;

impl sharded_slab::Config for SlabConfig {
    const RESERVED_BITS: usize = 1;
}

/// The slab key of a span ID.
fn slab_key(id: &Id) -> u64 {
    (id.into_u64() & !SAMPLED_BIT) - 1
}

/// The fast form: a slab of spans, two plain filters.
struct Fast {
    core: Core,
    log: LogOutput,
    log_filter: PlainFilter,
    traces_filter: PlainFilter,
    max_level: LevelFilter,
    spans: sharded_slab::Slab<Slot, SlabConfig>,
    stacks: ThreadLocal<RefCell<Vec<Id>>>,
    /// Where Sentry events go instead of the SDK, in a test capture.
    #[cfg(feature = "sentry")]
    sentry_capture: Option<SentryStore>,
}

/// What the request layer makes of a request's server span, decided before the span is.
#[derive(Debug)]
pub(crate) enum ServerSpan {
    /// The sampler drops it: no `tracing` span at all, only this trace context, and whether
    /// log lines carry the request's fields (the log filter lets the span through).
    Unrecorded { span: TraceParent, logged: bool },
    /// A `tracing` span like any other: sampled, filtered out of traces, or under a
    /// subscriber other than teei-obs's fast one (layers of the user's may want the span).
    Recorded,
}

/// Decides the server span of a request whose remote parent is `remote`, for a span of
/// `target` at INFO. A sampled root keeps the trace ID its decision was made for (the next
/// root span on this thread takes it: make the span right after, then clear it with
/// `ids::preset_root_trace_id(0)`).
pub(crate) fn plan_server_span(remote: Option<&TraceParent>, target: &str) -> ServerSpan {
    tracing::dispatcher::get_default(|dispatch| match dispatch.downcast_ref::<TeeiSubscriber>() {
        Some(TeeiSubscriber(Inner::Fast(fast))) => fast.plan_server_span(remote, target),
        _ => ServerSpan::Recorded,
    })
}

impl Fast {
    fn plan_server_span(&self, remote: Option<&TraceParent>, target: &str) -> ServerSpan {
        let level = tracing::Level::INFO;
        if !self.traces_filter.would_enable(target, &level) {
            return ServerSpan::Recorded;
        }
        let trace_id = remote.map_or_else(super::ids::trace_id, |p| p.trace_id);
        if self
            .core
            .should_sample(trace_id, remote.map(|parent| parent.sampled))
        {
            if remote.is_none() {
                super::ids::preset_root_trace_id(trace_id);
            }
            return ServerSpan::Recorded;
        }
        ServerSpan::Unrecorded {
            span: TraceParent {
                trace_id,
                span_id: super::ids::span_id(),
                sampled: false,
                trace_state: remote.and_then(|parent| parent.trace_state.clone()),
            },
            logged: self.log_filter.would_enable(target, &level),
        }
    }

    fn slot(&self, id: &Id) -> Option<sharded_slab::Entry<'_, Slot, SlabConfig>> {
        usize::try_from(slab_key(id))
            .ok()
            .and_then(|key| self.spans.get(key))
    }

    /// The trace context of span `id` as a parent, if it is a live span with one.
    fn parent_of(&self, id: &Id) -> Option<TraceParent> {
        self.slot(id).and_then(|slot| slot.header.clone())
    }

    fn current_id(&self) -> Option<Id> {
        self.stacks
            .get()
            .and_then(|stack| stack.borrow().last().cloned())
    }

    fn wanted(&self, metadata: &Metadata<'_>) -> bool {
        self.log_filter
            .would_enable(metadata.target(), metadata.level())
            || self
                .traces_filter
                .would_enable(metadata.target(), metadata.level())
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let metadata = attrs.metadata();
        let traced = self
            .traces_filter
            .would_enable(metadata.target(), metadata.level());
        let logged = self
            .log_filter
            .would_enable(metadata.target(), metadata.level());
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            self.parent_of(parent)
        } else {
            self.current_id().and_then(|id| self.parent_of(&id))
        };
        let (header, state) = if traced {
            let state = self.core.start(attrs, parent);
            let header = Some(state.as_parent());
            (header, state.is_recording().then(|| Mutex::new(state)))
        } else {
            // Not traced: transparent, its children continue its parent's trace.
            (parent, None)
        };
        let slot = Slot {
            refs: AtomicUsize::new(1),
            metadata,
            logged,
            // Only spans with fields of their own, that reach log lines, keep them.
            fields: Mutex::new(if logged {
                OwnFields::of(attrs)
            } else {
                OwnFields::default()
            }),
            header,
            traced,
            state,
        };
        // A sampled span says so in its ID: entering an unsampled one looks nothing up.
        let sampled = if slot.state.is_some() { SAMPLED_BIT } else { 0 };
        match self.spans.insert(slot) {
            Some(key) => Id::from_u64((key as u64 + 1) | sampled),
            // The slab is full (billions of live spans): this span is not stored.
            None => Id::from_u64(u64::MAX),
        }
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
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

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let span = if event.is_root() {
            None
        } else if let Some(parent) = event.parent() {
            Some(parent.clone())
        } else {
            self.current_id()
        };
        if metadata.target() != super::PANIC_TARGET
            && self
                .log_filter
                .would_enable(metadata.target(), metadata.level())
        {
            let header = span
                .as_ref()
                .and_then(|id| self.slot(id))
                .and_then(|slot| slot.header.as_ref().map(|h| (h.trace_id, h.span_id)));
            // The fields of the logged spans entered on this thread, outermost first, and
            // of an explicit parent that is not entered (an event emitted as a span closes).
            let mut span_fields = Vec::new();
            // Span names only for what can become a Sentry event: no allocation per line.
            #[cfg(feature = "sentry")]
            let wants_names = *metadata.level() == tracing::Level::ERROR;
            #[cfg(feature = "sentry")]
            let mut span_names = Vec::new();
            // A request whose server span was not recorded: outermost, as that span would be.
            let server = super::context::with_unrecorded_server(|server| {
                #[cfg(feature = "sentry")]
                if wants_names {
                    span_names.push(super::context::UnrecordedServer::NAME);
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
                        span_names.push(slot.metadata.name());
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
            match &self.sentry_capture {
                Some(store) => {
                    if let Some(sentry_event) =
                        crate::errors::event_for(&prepared, header.map(|h| (h.0, h.1)))
                        && let Ok(json) = serde_json::to_value(&sentry_event)
                    {
                        store.lock().unwrap_or_else(|e| e.into_inner()).push(json);
                    }
                }
                None if crate::errors::enabled() => {
                    crate::errors::observe(&prepared, header.map(|h| (h.0, h.1)));
                }
                None => {}
            }
        }
        if self
            .traces_filter
            .would_enable(metadata.target(), metadata.level())
        {
            self.attach(event, span);
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

    fn enter(&self, span: &Id) {
        self.stacks.get_or_default().borrow_mut().push(span.clone());
        // The innermost sampled span of the thread, for metric exemplars.
        if let Some(ids) = self.sampled_ids(span) {
            crate::metrics::exemplar::set_sampled(Some(ids));
        }
    }

    fn exit(&self, span: &Id) {
        if let Some(stack) = self.stacks.get() {
            let mut stack = stack.borrow_mut();
            if let Some(position) = stack.iter().rposition(|entered| entered == span) {
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
        super::reports::forget(&id);
        let Some(slot) = usize::try_from(slab_key(&id))
            .ok()
            .and_then(|key| self.spans.take(key))
        else {
            return false;
        };
        if let Some(state) = slot.state {
            self.core
                .finish(state.into_inner().unwrap_or_else(|e| e.into_inner()));
        }
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

/// The trace context of `span` as a parent, when teei-obs's subscriber or layer records it.
pub(crate) fn parent_of_span(span: &tracing::Span) -> Option<TraceParent> {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(subscriber) = dispatch.downcast_ref::<TeeiSubscriber>()
            && let Some(parent) = subscriber.parent_of(id)
        {
            return Some(parent);
        }
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        let extensions = span.extensions();
        extensions.get::<SpanState>().map(SpanState::as_parent)
    })
    .flatten()
}

impl TeeiSubscriber {
    /// The trace context of span `id` as a parent, if this subscriber records it.
    pub(crate) fn parent_of(&self, id: &Id) -> Option<TraceParent> {
        match &self.0 {
            Inner::Fast(fast) => fast.parent_of(id),
            Inner::Composed(_) => None,
        }
    }
}

impl Subscriber for TeeiSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        match &self.0 {
            Inner::Fast(fast) if fast.wanted(metadata) => Interest::always(),
            Inner::Fast(_) => Interest::never(),
            Inner::Composed(inner) => inner.register_callsite(metadata),
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        match &self.0 {
            Inner::Fast(fast) => fast.wanted(metadata),
            Inner::Composed(inner) => inner.enabled(metadata),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        match &self.0 {
            Inner::Fast(fast) => Some(fast.max_level),
            Inner::Composed(inner) => inner.max_level_hint(),
        }
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        match &self.0 {
            Inner::Fast(fast) => fast.new_span(attrs),
            Inner::Composed(inner) => inner.new_span(attrs),
        }
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        match &self.0 {
            Inner::Fast(fast) => fast.record(span, values),
            Inner::Composed(inner) => inner.record(span, values),
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        if let Inner::Composed(inner) = &self.0 {
            inner.record_follows_from(span, follows);
        }
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        match &self.0 {
            Inner::Fast(_) => true,
            Inner::Composed(inner) => inner.event_enabled(event),
        }
    }

    fn event(&self, event: &Event<'_>) {
        match &self.0 {
            Inner::Fast(fast) => fast.event(event),
            Inner::Composed(inner) => inner.event(event),
        }
    }

    fn enter(&self, span: &Id) {
        match &self.0 {
            Inner::Fast(fast) => fast.enter(span),
            Inner::Composed(inner) => inner.enter(span),
        }
    }

    fn exit(&self, span: &Id) {
        match &self.0 {
            Inner::Fast(fast) => fast.exit(span),
            Inner::Composed(inner) => inner.exit(span),
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        match &self.0 {
            Inner::Fast(fast) => fast.clone_span(id),
            Inner::Composed(inner) => inner.clone_span(id),
        }
    }

    fn try_close(&self, id: Id) -> bool {
        match &self.0 {
            Inner::Fast(fast) => fast.try_close(id),
            Inner::Composed(inner) => inner.try_close(id),
        }
    }

    fn current_span(&self) -> Current {
        match &self.0 {
            Inner::Fast(fast) => fast.current_span(),
            Inner::Composed(inner) => inner.current_span(),
        }
    }

    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        if let Inner::Composed(inner) = &self.0 {
            inner.on_register_dispatch(subscriber);
        }
    }

    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        match &self.0 {
            Inner::Fast(_) => None,
            // SAFETY: forwarded to the inner subscriber, which upholds the contract for
            // the types it knows (the Registry among them).
            Inner::Composed(inner) => unsafe { inner.downcast_raw(id) },
        }
    }
}
