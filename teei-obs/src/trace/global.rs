//! OpenTelemetry's globals, for instrumentation that speaks the OpenTelemetry API rather
//! than `tracing` (a tonic interceptor, a library with its own spans): `init` installs a
//! global tracer provider whose spans take the same sampler, redaction and export pipeline
//! as teei-obs's own, and the HTTP layer makes each request's server span the current
//! OpenTelemetry `Context` while the request is polled. So `global::tracer(..)` spans and
//! `global::get_text_map_propagator(..)` injections made during a request continue its trace.
//! (The global propagator itself is set in `propagation.rs`.)

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample, Span, SpanData,
    SpanProcessor,
};

use super::export::Pipeline;
use super::sampler::Sampler;

/// Hands the SDK's finished, sampled spans to teei-obs's pipeline, redacted.
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
        for attribute in &mut span.attributes {
            redact(&self.redactor, attribute);
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
    opentelemetry::global::set_tracer_provider(provider);
}

/// The OpenTelemetry `Context` of `span` (a teei-obs span, sampled or not), to make current
/// while work of that span runs; `None` when no teei-obs subscriber or layer records it.
pub(crate) fn context_of(span: &tracing::Span) -> Option<Context> {
    super::subscriber::parent_of_span(span).map(|parent| context_of_parent(&parent))
}

/// The OpenTelemetry `Context` of a span of this process with trace context `span`.
pub(crate) fn context_of_parent(span: &super::context::TraceParent) -> Context {
    Context::new().with_remote_span_context(span.local_span_context())
}
