//! Tracing: sampling, propagation, the span filter, where spans go and the OpenTelemetry
//! API bridge.

use super::Config;
use super::env::{Env, invalid};
use super::export::{CustomExporter, TraceExport};
use crate::InitError;
use crate::trace::Sampler;

/// A propagation format named in `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context: `traceparent`, `tracestate`.
    TraceContext,
    /// W3C Baggage: `baggage`.
    Baggage,
    /// Zipkin B3, single header: `b3`.
    B3,
    /// Zipkin B3, one header per field: `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, …
    B3Multi,
}

/// The propagators in force when `OTEL_PROPAGATORS` is not set.
pub const DEFAULT_PROPAGATORS: [Propagator; 2] = [Propagator::TraceContext, Propagator::Baggage];

/// How spans are made, sampled, filtered and where they go.
#[derive(Clone, Debug)]
pub(crate) struct TraceSettings {
    pub(crate) sdk_disabled: bool,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) opentelemetry_api: bool,
    /// `None`: by the environment (a tenth in production).
    pub(crate) sampler: Option<Sampler>,
    /// `None`: OTLP when an endpoint is set, else memory.
    pub(crate) export: Option<TraceExport>,
    pub(crate) filter: String,
    pub(crate) memory_capacity: usize,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            sdk_disabled: false,
            propagators: DEFAULT_PROPAGATORS.to_vec(),
            opentelemetry_api: true,
            sampler: None,
            export: None,
            filter: "info".to_owned(),
            memory_capacity: 1024,
        }
    }
}

impl TraceSettings {
    /// `OTEL_SDK_DISABLED`, `OTEL_PROPAGATORS`, `OTEL_TRACES_SAMPLER(_ARG)`,
    /// `OTEL_TRACES_FILTER`, `OTEL_TRACES_EXPORTER` and the OTLP endpoint.
    pub(super) fn read(&mut self, env: &Env<'_>) -> Result<(), InitError> {
        self.sdk_disabled = env.boolean("OTEL_SDK_DISABLED")?.unwrap_or(false);
        if let Some(propagators) = env.propagators()? {
            self.propagators = propagators;
        }
        if let Some(sampler) = env.var("OTEL_TRACES_SAMPLER") {
            let arg = env.var("OTEL_TRACES_SAMPLER_ARG");
            self.sampler = Some(
                Sampler::parse(&sampler, arg.as_deref())
                    .map_err(|error| invalid(error.variable, error.value, error.expected))?,
            );
        }
        if let Some(filter) = env.var("OTEL_TRACES_FILTER") {
            self.filter = filter;
        }
        let explicit_otlp = match env.var("OTEL_TRACES_EXPORTER").as_deref() {
            None => false,
            Some("otlp") => true,
            Some("console") => {
                self.export = Some(TraceExport::Console);
                false
            }
            Some("memory") => {
                self.export = Some(TraceExport::Memory);
                false
            }
            Some("none") => {
                self.export = Some(TraceExport::None);
                false
            }
            Some(other) => {
                return Err(invalid(
                    "OTEL_TRACES_EXPORTER",
                    other.to_owned(),
                    "`otlp`, `console`, `memory` or `none`",
                ));
            }
        };
        if self.export.is_none()
            && let Some((endpoint, protocol)) = env.endpoint(explicit_otlp)?
        {
            self.export = Some(TraceExport::Otlp { endpoint, protocol });
        }
        Ok(())
    }
}

impl Env<'_> {
    /// `OTEL_PROPAGATORS`.
    pub(super) fn propagators(&self) -> Result<Option<Vec<Propagator>>, InitError> {
        const NAME: &str = "OTEL_PROPAGATORS";
        const EXPECTED: &str = "a comma-separated list of `tracecontext`, `baggage`, `b3`, \
                                `b3multi`, or `none` alone";
        let Some(value) = self.var(NAME) else {
            return Ok(None);
        };
        let names: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names == ["none"] {
            return Ok(Some(Vec::new()));
        }
        let mut propagators = Vec::new();
        for name in names {
            let propagator = match name {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                _ => return Err(invalid(NAME, value.clone(), EXPECTED)),
            };
            if !propagators.contains(&propagator) {
                propagators.push(propagator);
            }
        }
        Ok(Some(propagators))
    }
}

impl Config {
    /// Whether no span leaves the process (as `OTEL_SDK_DISABLED=true`); metrics and
    /// health are served either way.
    pub fn sdk_disabled(mut self, disabled: bool) -> Self {
        self.trace.sdk_disabled = disabled;
        self
    }

    /// Sets the propagation formats read from incoming and written to outgoing requests
    /// and messages (as `OTEL_PROPAGATORS`); an empty list propagates nothing but the
    /// correlation and causation IDs.
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.trace.propagators = propagators.into_iter().collect();
        self
    }

    /// Whether instrumentation written against the OpenTelemetry API joins teei-obs's
    /// traces (on by default): `init` installs a global tracer provider exporting through
    /// the same pipeline. Its tracers, and the global propagator, take teei-obs's current
    /// span (a request's server span, a client span, a `#[traced]` function's) as the
    /// parent when the `Context` they are given has no span of its own — so
    /// `global::tracer(..).in_span(..)` and `get_text_map_propagator(..)` injections with
    /// `Context::current()` continue the trace. teei-obs does not attach its spans as
    /// OpenTelemetry's current `Context`: `Context::current().span()` read directly shows
    /// none (docs/tracing.md). Costs nothing per request.
    pub fn opentelemetry_api(mut self, enabled: bool) -> Self {
        self.trace.opentelemetry_api = enabled;
        self
    }

    /// Sets the head sampler.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.trace.sampler = Some(sampler);
        self
    }

    /// Sets where spans go.
    pub fn trace_export(mut self, export: TraceExport) -> Self {
        self.trace.export = Some(export);
        self
    }

    /// Exports through the same bounded queue and export thread as OTLP, to an exporter
    /// `make` builds on that thread (inside its Tokio runtime): an SDK exporter, a test
    /// double, a vendor's.
    pub fn span_exporter<E, F>(mut self, make: F) -> Self
    where
        E: opentelemetry_sdk::trace::SpanExporter + 'static,
        F: Fn() -> E + Send + Sync + 'static,
    {
        let make = std::sync::Arc::new(make);
        self.trace.export = Some(TraceExport::Custom(CustomExporter(std::sync::Arc::new(
            move |resource, settings, metrics| {
                let make = make.clone();
                crate::trace::Pipeline::exporting(move || Ok(make()), resource, settings, metrics)
            },
        ))));
        self
    }

    /// Sets how many spans the in-memory export keeps (the oldest go first).
    pub fn memory_capacity(mut self, spans: usize) -> Self {
        self.trace.memory_capacity = spans.max(1);
        self
    }

    /// Sets which spans are recorded and exported, and which events are attached to them
    /// (`OTEL_TRACES_FILTER`, `level` and `target=level` directives; default `info`), apart
    /// from the log filter: `RUST_LOG=warn` keeps traces whole.
    pub fn traces_filter(mut self, filter: impl Into<String>) -> Self {
        self.trace.filter = filter.into();
        self
    }

    /// The propagation formats in force.
    pub fn effective_propagators(&self) -> &[Propagator] {
        &self.trace.propagators
    }

    /// The sampler in force: the configured one, else the environment's default.
    pub fn effective_sampler(&self) -> Sampler {
        self.trace
            .sampler
            .unwrap_or_else(|| Sampler::default_for(self.service.is_production()))
    }

    /// Where spans go: the configured export, else the in-memory ring buffer; nowhere when
    /// the SDK is disabled.
    pub fn effective_trace_export(&self) -> TraceExport {
        if self.trace.sdk_disabled {
            return TraceExport::None;
        }
        self.trace.export.clone().unwrap_or(TraceExport::Memory)
    }
}
