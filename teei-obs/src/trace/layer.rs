//! The `tracing_subscriber` layers: teei-obs's spans for a `Registry` of your own (the
//! span recorder behind a layer), and the composition of the sinks.
//!
//! Unlike a layer that builds every span and lets the SDK sample it at the end, the
//! recorder makes the head-sampling decision when the span starts.

use std::fmt;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::recorder::{SpanRecorder, SpanState};

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
pub struct SpanLayer {
    core: SpanRecorder,
}

impl fmt::Debug for SpanLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanLayer")
            .field("sampler", &self.core.sampler)
            .finish_non_exhaustive()
    }
}

impl SpanLayer {
    pub(crate) fn new(core: SpanRecorder) -> Self {
        SpanLayer { core }
    }
}

impl<S> Layer<S> for SpanLayer
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
        super::reports::close(&id, || ctx.span(&id)?.parent().map(|parent| parent.id()));
        if let Some(span) = ctx.span(&id)
            && let Some(state) = span.extensions_mut().remove::<SpanState>()
        {
            self.core.finish(state);
        }
    }
}
