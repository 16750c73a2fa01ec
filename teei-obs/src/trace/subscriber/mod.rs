//! A lean `tracing` subscriber: the span store teei-obs needs and nothing more.
//!
//! `tracing_subscriber::Registry` keeps a type map of extensions for every span, behind a
//! lock, for any layer that may want one; on this machine it alone costs about 130 ns per
//! span. The fast form of this subscriber keeps exactly what a span's trace context and
//! its log lines need in a slab slot and skips the rest, which is what makes an unsampled
//! span cheap. It runs the same sinks as the layers do — [`SpanRecorder`] for spans,
//! [`LogOutput`] for lines, the Sentry capture — so the two wirings cannot drift.
//!
//! When `RUST_LOG` holds directives only `EnvFilter` can evaluate (span and field
//! filters), the subscriber is a `Registry` with teei-obs's layers instead
//! ([`Obs::layers`](crate::Obs::layers)): slower, and exact.

#[cfg(feature = "sentry")]
use std::sync::Mutex;

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;

/// The Sentry events a test capture keeps, as the SDK's JSON.
#[cfg(feature = "sentry")]
pub(crate) type SentryStore = std::sync::Arc<Mutex<Vec<serde_json::Value>>>;

mod fast;

use super::context::TraceParent;
use super::recorder::{SpanRecorder, SpanState};
use crate::log::LogOutput;
use fast::Fast;

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
        core: SpanRecorder,
        log_filter: Targets,
        traces_filter: Targets,
        log: LogOutput,
    ) -> Self {
        TeeiSubscriber(Inner::Fast(Fast::new(
            core,
            log,
            PlainFilter::new(log_filter),
            PlainFilter::new(traces_filter),
        )))
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

    /// The most verbose level it lets through.
    fn max_level(&self) -> LevelFilter {
        super::filter::max_level(&self.targets)
    }

    #[inline]
    fn would_enable(&self, target: &str, level: &tracing::Level) -> bool {
        match self.level_only {
            Some(max) => max >= *level,
            None => self.targets.would_enable(target, level),
        }
    }
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
