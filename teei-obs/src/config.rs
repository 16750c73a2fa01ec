//! What [`init`](crate::init) is told: the standard environment variables first, builder
//! methods over them. An invalid value is an error naming the variable and what it
//! accepts — never a silent default.

use std::time::Duration;

use crate::InitError;
use crate::trace::Sampler;

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (collector port 4317).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (collector port 4318, path `/v1/traces`).
    HttpProtobuf,
}

/// Where sampled spans go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceExport {
    /// To an OpenTelemetry collector (or Jaeger, Tempo) over OTLP.
    Otlp {
        /// The full URL spans are sent to (for HTTP, including `/v1/traces`).
        endpoint: String,
        /// The transport.
        protocol: Protocol,
    },
    /// One line per span on standard error.
    Console,
    /// A ring buffer of the latest spans, read with [`Obs::recent_spans`](crate::Obs::recent_spans).
    Memory,
    /// Nowhere (spans still propagate their context).
    None,
    /// Through the bounded queue to an exporter of your own (see [`Config::span_exporter`]).
    Custom(CustomExporter),
}

type StartPipeline = dyn Fn(
        opentelemetry_sdk::Resource,
        crate::trace::QueueSettings,
        crate::trace::PipelineMetrics,
    ) -> Result<crate::trace::Pipeline, String>
    + Send
    + Sync;

/// A span exporter given to [`Config::span_exporter`].
#[derive(Clone)]
pub struct CustomExporter(pub(crate) std::sync::Arc<StartPipeline>);

impl std::fmt::Debug for CustomExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomExporter")
    }
}

impl PartialEq for CustomExporter {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CustomExporter {}

/// Configuration of [`init`](crate::init).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `OTEL_SERVICE_NAME` | `service.name` | `unknown_service` |
/// | `SERVICE_VERSION` | `service.version` | the crate version |
/// | `DEPLOYMENT_ENVIRONMENT` | `deployment.environment`; `production` lowers default sampling | `development` |
/// | `OTEL_TRACES_EXPORTER` | `otlp`, `console`, `memory`, `none` | `otlp` if an endpoint is set, else `memory` |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | collector base URL | none |
/// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full traces URL, used as is | none |
/// | `OTEL_EXPORTER_OTLP_PROTOCOL` | `grpc` or `http/protobuf` | `grpc` |
/// | `OTEL_EXPORTER_OTLP_TIMEOUT` | export timeout, ms | 10000 |
/// | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | head sampler | parent-based, 10 % in production, 100 % otherwise |
/// | `OTEL_BSP_MAX_QUEUE_SIZE` | spans waiting for export before new ones are dropped | 2048 |
/// | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | spans per export call | 512 |
/// | `OTEL_BSP_SCHEDULE_DELAY` | ms between exports | 5000 |
/// | `RUST_LOG` | level filter, `target=level` directives | `info` |
/// | `LOG_FORMAT` | `json` or `pretty` | `json` in production, else `pretty` |
/// | `SENTRY_DSN` | Sentry project DSN; absent disables error tracking | none |
/// | `SENTRY_SAMPLE_RATE`, `SENTRY_TRACES_SAMPLE_RATE` | 0..=1 | 1, 0 |
///
/// ```
/// use teei_obs::config::{Config, TraceExport};
///
/// let config = Config::from_lookup(|name| match name {
///     "OTEL_SERVICE_NAME" => Some("checkout".into()),
///     "OTEL_TRACES_SAMPLER" => Some("sometimes".into()),
///     _ => None,
/// });
/// let error = config.unwrap_err().to_string();
/// assert!(error.contains("OTEL_TRACES_SAMPLER"), "{error}");
///
/// let config = Config::new("checkout").trace_export(TraceExport::Memory);
/// assert_eq!(config.name(), "checkout");
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) service_name: String,
    pub(crate) service_version: String,
    pub(crate) environment: String,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) traces: Option<TraceExport>,
    pub(crate) export_timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) max_batch: usize,
    pub(crate) schedule_delay: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) log_filter: String,
    pub(crate) install_subscriber: bool,
    pub(crate) memory_capacity: usize,
    pub(crate) state: crate::health::State,
    pub(crate) damping: crate::health::Damping,
    pub(crate) health_details: bool,
    pub(crate) drain_delay: Duration,
    pub(crate) log_format: Option<crate::log::LogFormat>,
    pub(crate) redactor: crate::redact::Redactor,
    pub(crate) capture_logs: bool,
    pub(crate) sentry: Option<crate::errors::SentrySettings>,
}

impl Config {
    /// A configuration for `service_name` with no environment applied.
    pub fn new(service_name: impl Into<String>) -> Self {
        Config {
            service_name: service_name.into(),
            service_version: env!("CARGO_PKG_VERSION").to_owned(),
            environment: "development".to_owned(),
            sampler: None,
            traces: None,
            export_timeout: Duration::from_secs(10),
            queue_capacity: 2048,
            max_batch: 512,
            schedule_delay: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(5),
            log_filter: "info".to_owned(),
            install_subscriber: true,
            memory_capacity: 1024,
            state: crate::health::State::default(),
            damping: crate::health::Damping::default(),
            health_details: true,
            drain_delay: Duration::from_secs(5),
            log_format: None,
            redactor: crate::redact::Redactor::default(),
            capture_logs: false,
            sentry: None,
        }
    }

    /// Reads the process environment; see the table above.
    pub fn from_env() -> Result<Self, InitError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables of the table above through `lookup` instead of the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let var = |name: &'static str| -> Result<Option<String>, InitError> {
            match lookup(name) {
                Some(value) if value.trim().is_empty() => Ok(None),
                Some(value) => Ok(Some(value.trim().to_owned())),
                None => Ok(None),
            }
        };
        let invalid =
            |variable: &'static str, value: String, expected: &'static str| InitError::InvalidEnv {
                variable,
                value,
                expected,
            };
        let mut config = Config::new("unknown_service");
        if let Some(name) = var("OTEL_SERVICE_NAME")? {
            config.service_name = name;
        }
        if let Some(version) = var("SERVICE_VERSION")? {
            config.service_version = version;
        }
        if let Some(environment) = var("DEPLOYMENT_ENVIRONMENT")? {
            config.environment = environment;
        }
        if let Some(sampler) = var("OTEL_TRACES_SAMPLER")? {
            let arg = var("OTEL_TRACES_SAMPLER_ARG")?;
            config.sampler = Some(
                Sampler::parse(&sampler, arg.as_deref())
                    .map_err(|error| invalid(error.variable, error.value, error.expected))?,
            );
        }
        let millis = |name: &'static str| -> Result<Option<Duration>, InitError> {
            var(name)?
                .map(|value| {
                    value
                        .parse::<u64>()
                        .map(Duration::from_millis)
                        .map_err(|_| invalid(name, value, "a whole number of milliseconds"))
                })
                .transpose()
        };
        let count = |name: &'static str| -> Result<Option<usize>, InitError> {
            var(name)?
                .map(|value| {
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid(name, value, "a whole number above 0"))
                })
                .transpose()
        };
        if let Some(timeout) = millis("OTEL_EXPORTER_OTLP_TIMEOUT")? {
            config.export_timeout = timeout;
        }
        if let Some(delay) = millis("OTEL_BSP_SCHEDULE_DELAY")? {
            config.schedule_delay = delay;
        }
        if let Some(capacity) = count("OTEL_BSP_MAX_QUEUE_SIZE")? {
            config.queue_capacity = capacity;
        }
        if let Some(batch) = count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            config.max_batch = batch;
        }
        if let Some(filter) = var("RUST_LOG")? {
            crate::trace::parse_filter(&filter).map_err(|_| {
                invalid(
                    "RUST_LOG",
                    filter.clone(),
                    "comma-separated `level` or `target=level` directives",
                )
            })?;
            config.log_filter = filter;
        }

        if let Some(dsn) = var("SENTRY_DSN")? {
            let rate = |name: &'static str, default: f32| -> Result<f32, InitError> {
                match var(name)? {
                    None => Ok(default),
                    Some(value) => value
                        .parse::<f32>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| invalid(name, value, "a number from 0 to 1")),
                }
            };
            config.sentry = Some(crate::errors::SentrySettings {
                dsn: dsn.parse().map_err(|_| {
                    invalid(
                        "SENTRY_DSN",
                        dsn.clone(),
                        "a Sentry DSN: https://<key>@<host>/<project id>",
                    )
                })?,
                sample_rate: rate("SENTRY_SAMPLE_RATE", 1.0)?,
                traces_sample_rate: rate("SENTRY_TRACES_SAMPLE_RATE", 0.0)?,
            });
        }
        config.log_format = match var("LOG_FORMAT")?.as_deref() {
            None => None,
            Some("json") => Some(crate::log::LogFormat::Json),
            Some("pretty") => Some(crate::log::LogFormat::Pretty),
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    other.to_owned(),
                    "`json` or `pretty`",
                ));
            }
        };
        let protocol = match var("OTEL_EXPORTER_OTLP_PROTOCOL")?.as_deref() {
            None | Some("grpc") => Protocol::Grpc,
            Some("http/protobuf") => Protocol::HttpProtobuf,
            Some(other) => {
                return Err(invalid(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    other.to_owned(),
                    "`grpc` or `http/protobuf`",
                ));
            }
        };
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")?,
            var("OTEL_EXPORTER_OTLP_ENDPOINT")?,
        ) {
            (Some(traces), _) => Some(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces)),
            (None, Some(base)) => Some((
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                match protocol {
                    Protocol::Grpc => base,
                    Protocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
                },
            )),
            (None, None) => None,
        };
        if let Some((variable, url)) = &endpoint
            && !is_http_url(url)
        {
            return Err(invalid(
                variable,
                url.clone(),
                "an http:// URL (this build has no TLS for OTLP: use a collector sidecar or agent)",
            ));
        }
        config.traces = match var("OTEL_TRACES_EXPORTER")?.as_deref() {
            None | Some("otlp") => {
                endpoint.map(|(_, endpoint)| TraceExport::Otlp { endpoint, protocol })
            }
            Some("console") => Some(TraceExport::Console),
            Some("memory") => Some(TraceExport::Memory),
            Some("none") => Some(TraceExport::None),
            Some(other) => {
                return Err(invalid(
                    "OTEL_TRACES_EXPORTER",
                    other.to_owned(),
                    "`otlp`, `console`, `memory` or `none`",
                ));
            }
        };
        Ok(config)
    }

    /// Sets the service name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets the service version.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = version.into();
        self
    }

    /// Sets the deployment environment; `production` samples 10 % of new traces by default.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Sets the head sampler.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Sets where spans go.
    pub fn trace_export(mut self, export: TraceExport) -> Self {
        self.traces = Some(export);
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
        self.traces = Some(TraceExport::Custom(CustomExporter(std::sync::Arc::new(
            move |resource, settings, metrics| {
                let make = make.clone();
                crate::trace::Pipeline::exporting(move || Ok(make()), resource, settings, metrics)
            },
        ))));
        self
    }

    /// Sets the bound on one export call.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// Sets how many finished spans may wait for export; more are dropped and counted.
    pub fn span_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets the time between exports.
    pub fn export_interval(mut self, delay: Duration) -> Self {
        self.schedule_delay = delay;
        self
    }

    /// Sends errors to Sentry at `dsn` (as `SENTRY_DSN` would).
    pub fn sentry_dsn(mut self, dsn: &str) -> Result<Self, InitError> {
        let dsn = dsn.parse().map_err(|_| InitError::InvalidEnv {
            variable: "SENTRY_DSN",
            value: dsn.to_owned(),
            expected: "a Sentry DSN: https://<key>@<host>/<project id>",
        })?;
        self.sentry = Some(crate::errors::SentrySettings {
            dsn,
            sample_rate: 1.0,
            traces_sample_rate: 0.0,
        });
        Ok(self)
    }

    /// Sets the log line format (default: JSON in `production`, pretty elsewhere).
    pub fn log_format(mut self, format: crate::log::LogFormat) -> Self {
        self.log_format = Some(format);
        self
    }

    /// Adds keys to the redaction policy of logs and span attributes.
    pub fn redact_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.redactor = crate::redact::Redactor::with_keys(keys);
        self
    }

    /// Keeps log lines in memory ([`Obs::recent_logs`](crate::Obs::recent_logs)) instead of
    /// writing them to standard error: for tests.
    pub fn capture_logs(mut self, capture: bool) -> Self {
        self.capture_logs = capture;
        self
    }

    /// The log format in force.
    pub fn effective_log_format(&self) -> crate::log::LogFormat {
        self.log_format
            .unwrap_or(if self.environment == "production" {
                crate::log::LogFormat::Json
            } else {
                crate::log::LogFormat::Pretty
            })
    }

    /// Hands `value` to the health checks that take a `&T` (or a `T: Clone`) parameter.
    pub fn provide<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Sets how many consecutive results change a check's state.
    pub fn health_damping(mut self, damping: crate::health::Damping) -> Self {
        self.damping = damping;
        self
    }

    /// Whether `/health` and the probes show the checks' messages (on by default; turn it
    /// off when the endpoints are reachable from outside).
    pub fn health_details(mut self, show: bool) -> Self {
        self.health_details = show;
        self
    }

    /// Sets how long readiness answers 503 before the server stops taking connections
    /// (default 5 s; a Kubernetes readiness probe period or two).
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.drain_delay = delay;
        self
    }

    /// Sets how many spans the in-memory export keeps (the oldest go first).
    pub fn memory_capacity(mut self, spans: usize) -> Self {
        self.memory_capacity = spans.max(1);
        self
    }

    /// Sets the bound on [`Obs::shutdown`](crate::Obs::shutdown).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets the level filter (`RUST_LOG` syntax: `info`, `my_crate=debug,info`).
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = filter.into();
        self
    }

    /// Whether `init` installs its subscriber as the global default (it does by default);
    /// without it, compose [`Obs::otel_layer`](crate::Obs::otel_layer) into your own.
    pub fn install_subscriber(mut self, install: bool) -> Self {
        self.install_subscriber = install;
        self
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.service_name
    }

    /// The service version.
    pub fn version(&self) -> &str {
        &self.service_version
    }

    /// The deployment environment.
    pub fn deployment_environment(&self) -> &str {
        &self.environment
    }

    /// The sampler in force: the configured one, else the environment's default.
    pub fn effective_sampler(&self) -> Sampler {
        self.sampler
            .unwrap_or_else(|| Sampler::default_for(self.environment == "production"))
    }

    /// Where spans go: the configured export, else the in-memory ring buffer.
    pub fn effective_trace_export(&self) -> TraceExport {
        self.traces.clone().unwrap_or(TraceExport::Memory)
    }
}

fn is_http_url(url: &str) -> bool {
    url.parse::<http::Uri>()
        .is_ok_and(|uri| uri.scheme_str() == Some("http") && uri.host().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Config, InitError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn an_endpoint_selects_otlp_and_http_gets_the_traces_path() {
        let config = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])
        .unwrap();
        assert_eq!(
            config.effective_trace_export(),
            TraceExport::Otlp {
                endpoint: "http://collector:4318/v1/traces".into(),
                protocol: Protocol::HttpProtobuf
            }
        );
        let grpc = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")]).unwrap();
        assert!(matches!(
            grpc.effective_trace_export(),
            TraceExport::Otlp {
                protocol: Protocol::Grpc,
                ..
            }
        ));
    }

    #[test]
    fn without_an_endpoint_spans_stay_in_memory() {
        assert_eq!(
            from(&[]).unwrap().effective_trace_export(),
            TraceExport::Memory
        );
    }

    #[test]
    fn production_samples_a_tenth_by_default() {
        let config = from(&[("DEPLOYMENT_ENVIRONMENT", "production")]).unwrap();
        assert_eq!(config.effective_sampler(), Sampler::default_for(true));
        assert_ne!(
            from(&[]).unwrap().effective_sampler(),
            Sampler::default_for(true)
        );
    }

    #[test]
    fn every_invalid_value_names_its_variable() {
        let cases = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_TRACES_SAMPLER", "maybe"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5s"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("RUST_LOG", "info,=,x=loud"),
            ("LOG_FORMAT", "xml"),
            ("SENTRY_DSN", "not a dsn"),
        ];
        for (variable, value) in cases {
            let error = from(&[(variable, value)]).unwrap_err().to_string();
            assert!(error.contains(variable), "{variable}: {error}");
            assert!(error.contains("expected"), "{variable}: {error}");
        }
        let error = from(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("OTEL_TRACES_SAMPLER_ARG"), "{error}");
    }
}
