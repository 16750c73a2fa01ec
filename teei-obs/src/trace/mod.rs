//! Tracing: `#[traced]` spans exported to OpenTelemetry, head sampling, and the propagation
//! of trace context and correlation IDs across HTTP calls and message buses.
//!
//! [`init`](crate::init) installs a `tracing` subscriber made of a `tracing_subscriber`
//! registry, the `RUST_LOG` level filter and [`SpanLayer`]. Every `tracing` span — from
//! `#[traced]`, `#[instrument]` or a library — becomes an OpenTelemetry span when sampled.
//!
//! # Propagation
//!
//! Incoming: [`RequestContext::extract`] (the HTTP layer of [`Obs::request_layer`](crate::Obs::request_layer)
//! does it for every request) reads `traceparent`, `tracestate`, `baggage`,
//! `x-correlation-id` and `x-causation-id`; [`RequestContext::scope`] makes it current, so
//! spans continue the remote trace and [`correlation_id`] answers anywhere in the task.
//!
//! Outgoing: [`inject`] (or [`inject_http`]) writes the current span's context and the IDs
//! into an HTTP request's or a message's headers ([`MessageHeaders`]).
//!
//! The guide, `docs/tracing.md`, covers configuration, the collector-down behaviour and
//! the metrics the pipeline exports.

mod context;
mod export;
mod fields;
#[cfg(feature = "sentry")]
pub(crate) use fields::scope_names;
pub(crate) use fields::{
    Prepared, event_layer_span_methods, prepare, record_span_fields, scope_fields,
    store_span_fields,
};
mod filter;
pub(crate) use filter::{Filters, max_level};
mod global;
pub(crate) use global::install_tracer_provider;
mod ids;
pub use ids::generate_id;
pub(crate) use ids::preset_root_trace_id;
mod layer;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use otlp::OtlpSettings;
mod panics;
pub(crate) use panics::{PANIC_TARGET, install_panic_hook};
#[doc(hidden)]
pub use panics::{PanicMark, PanicMarked};
mod headers;
mod propagation;
mod recorder;
pub mod reports;
pub(crate) use context::{UnrecordedServer, swap_thread_context};
pub(crate) use propagation::{correlation_header, extract_http_with_correlation};
mod sampler;
mod subscriber;
pub(crate) use subscriber::{ServerSpan, plan_server_span};

#[cfg(feature = "sentry")]
pub(crate) use context::remote_parent;
pub(crate) use context::request_ids;
#[cfg(feature = "sentry")]
pub(crate) use context::suppress_tracing as suppress_on_this_thread;
pub use context::{
    CAUSATION_HEADER, CORRELATION_HEADER, MAX_ID_LEN, RequestContext, correlation_id, current,
    is_valid_id,
};
pub use export::FlushError;
pub(crate) use export::{Pipeline, PipelineMetrics, QueueSettings};
pub use layer::SpanLayer;
pub(crate) use layer::{RegistryHandle, Sinks};
pub use opentelemetry_sdk::trace::SpanData;
pub(crate) use propagation::install_propagators;
pub use propagation::{
    HeaderCarrier, HeaderReader, MessageHeaders, extract_http, inject, inject_http,
    is_valid_traceparent, is_valid_tracestate_key, is_valid_tracestate_value,
};
pub(crate) use recorder::SpanRecorder;
pub use sampler::{Root, Sampler, SamplerError};
pub use subscriber::TeeiSubscriber;
#[cfg(feature = "sentry")]
pub(crate) use subscriber::parent_of_span;
