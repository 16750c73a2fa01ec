//! Tracing: `#[traced]` spans exported to OpenTelemetry, head sampling, and the propagation
//! of trace context and correlation IDs across HTTP calls and message buses.
//!
//! [`init`](crate::init) installs a `tracing` subscriber made of a `tracing_subscriber`
//! registry, the `RUST_LOG` level filter and [`OtelLayer`]. Every `tracing` span — from
//! `#[traced]`, `#[instrument]` or a library — becomes an OpenTelemetry span when sampled.
//!
//! # Propagation
//!
//! Incoming: [`RequestContext::extract`] (the HTTP layer of [`Obs::layer`](crate::Obs::layer)
//! does it for every request) reads `traceparent`, `tracestate`, `baggage`,
//! `x-correlation-id` and `x-causation-id`; [`RequestContext::scope`] makes it current, so
//! spans continue the remote trace and [`correlation_id`] answers anywhere in the task.
//!
//! Outgoing: [`inject`] (or [`inject_http`]) writes the current span's context and the IDs
//! into an HTTP request's or a message's headers ([`MessageHeaders`]).
//!
//! The guide, `docs/tracing.md`, covers configuration, the collector-down behaviour and
//! the metrics the pipeline exports.

mod export;
mod fields;
pub(crate) use fields::{record_span_fields, scope_fields, store_span_fields};
mod filter;
pub(crate) use filter::{Filters, max_level};
mod global;
pub(crate) use global::{context_of as otel_context_of, install_tracer_provider};
mod ids;
mod layer;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use otlp::OtlpSettings;
mod propagation;
pub(crate) use propagation::{correlation_header, swap_thread_context};
mod sampler;
mod subscriber;

pub use export::FlushError;
pub(crate) use export::{Pipeline, PipelineMetrics, QueueSettings};
pub use layer::OtelLayer;
pub(crate) use layer::{Core, RegistryHandle, Sinks};
pub use opentelemetry_sdk::trace::SpanData;
#[cfg(feature = "sentry")]
pub(crate) use propagation::suppress_tracing as suppress_on_this_thread;
pub use propagation::{
    CAUSATION_HEADER, CORRELATION_HEADER, HeaderCarrier, HeaderReader, MAX_ID_LEN, MessageHeaders,
    RequestContext, correlation_id, current, extract_http, generate_id, inject, inject_http,
    is_valid_id, is_valid_traceparent, is_valid_tracestate_key, is_valid_tracestate_value,
};
pub(crate) use propagation::{install_propagators, request_ids};
pub use sampler::{Root, Sampler, SamplerError};
pub use subscriber::TeeiSubscriber;
