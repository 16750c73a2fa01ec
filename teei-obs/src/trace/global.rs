//! OpenTelemetry's globals, for instrumentation that speaks the OpenTelemetry API rather
//! than `tracing` (a tonic interceptor, a library with its own spans): `init` installs a
//! global tracer provider whose spans take the same sampler, redaction and export pipeline
//! as teei-obs's own. Its tracer, and the global propagator (set in `propagation.rs`),
//! take teei-obs's current span — or the request's unrecorded server span — as the parent
//! whenever the OpenTelemetry `Context` they are given has no span of its own. So
//! `global::tracer(..)` spans and `global::get_text_map_propagator(..)` injections made
//! during a request continue its trace, and no request pays for building and attaching an
//! OpenTelemetry `Context` it may never read (≈ 90 ns each, docs/performance.md).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{
    SpanBuilder, SpanKind, Status, TraceContextExt, TraceId, Tracer, TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    SamplingDecision, SamplingResult, SdkTracer, SdkTracerProvider, ShouldSample, Span, SpanData,
    SpanProcessor,
};

use super::export::Pipeline;
use super::sampler::Sampler;

/// Hands the SDK's finished, sampled spans to teei-obs's pipeline, redacted as teei-obs's
/// own spans are: a name built at run time, attributes, event names (an event's message)
/// and attributes, link attributes and the error description.
#[derive(Debug)]
struct PipelineProcessor {
    pipeline: Arc<Pipeline>,
    redactor: crate::redact::Redactor,
}

impl SpanProcessor for PipelineProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let redactor = &self.redactor;
        // A `&'static` name is the instrumentation's own text; one built at run time is
        // redacted like an attribute.
        if let Cow::Owned(name) = &span.name
            && let Cow::Owned(redacted) = redactor.redact_text(name)
        {
            span.name = Cow::Owned(redacted);
        }
        for attribute in &mut span.attributes {
            redact(redactor, attribute);
        }
        for event in &mut span.events.events {
            if let Cow::Owned(name) = redactor.redact_text(&event.name) {
                event.name = Cow::Owned(name);
            }
            for attribute in &mut event.attributes {
                redact(redactor, attribute);
            }
        }
        for link in &mut span.links.links {
            for attribute in &mut link.attributes {
                redact(redactor, attribute);
            }
        }
        if let Status::Error { description } = &span.status
            && let Cow::Owned(redacted) = redactor.redact_text(description)
        {
            span.status = Status::error(redacted);
        }
        self.pipeline.submit(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn redact(redactor: &crate::redact::Redactor, attribute: &mut KeyValue) {
    if redactor.is_sensitive_key(attribute.key.as_str()) {
        attribute.value = Value::from(crate::redact::REDACTED);
    } else if let Value::String(text) = &attribute.value
        && let Cow::Owned(redacted) = redactor.redact_text(text.as_str())
    {
        attribute.value = Value::from(redacted);
    }
}

/// teei-obs's head sampler, asked the SDK's way.
#[derive(Clone, Debug)]
struct SameSampler(Sampler);

impl ShouldSample for SameSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[opentelemetry::trace::Link],
    ) -> SamplingResult {
        let parent = parent_context
            .map(|cx| cx.span().span_context().clone())
            .filter(|context| context.is_valid());
        let sampled = self.0.should_sample(
            u128::from_be_bytes(trace_id.to_bytes()),
            parent.as_ref().map(|context| context.is_sampled()),
        );
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: parent
                .map(|context| context.trace_state().clone())
                .unwrap_or_default(),
        }
    }
}

/// Makes spans of `opentelemetry::global::tracer(..)` go through `pipeline`.
pub(crate) fn install_tracer_provider(
    pipeline: Arc<Pipeline>,
    sampler: Sampler,
    redactor: crate::redact::Redactor,
) {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(PipelineProcessor { pipeline, redactor })
        .with_sampler(SameSampler(sampler))
        .build();
    opentelemetry::global::set_tracer_provider(BridgeProvider(provider));
}

/// The SDK's tracer provider, handing out [`BridgeTracer`]s.
#[derive(Debug)]
struct BridgeProvider(SdkTracerProvider);

impl TracerProvider for BridgeProvider {
    type Tracer = BridgeTracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> BridgeTracer {
        BridgeTracer(self.0.tracer_with_scope(scope))
    }
}

/// The SDK's tracer, parenting spans started without a span in their `Context` on
/// teei-obs's current trace context ([`bridged`](super::propagation::bridged)).
#[derive(Debug)]
struct BridgeTracer(SdkTracer);

impl Tracer for BridgeTracer {
    type Span = Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Span {
        match super::propagation::bridged(parent_cx) {
            Some(cx) => self.0.build_with_context(builder, &cx),
            None => self.0.build_with_context(builder, parent_cx),
        }
    }
}
