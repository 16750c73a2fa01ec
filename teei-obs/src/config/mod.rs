//! What [`init`](crate::init) is told: the standard environment variables first, builder
//! methods over them. An invalid value is an error naming the variable and what it
//! accepts — never a silent default.

use std::time::Duration;

use crate::InitError;
use crate::trace::Sampler;

mod env;

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

/// Compression of OTLP export requests (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Bodies as they are (the specification's default).
    #[default]
    None,
    /// gzip-compressed bodies.
    Gzip,
}

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

/// TLS material for the OTLP exporter, as `OTEL_EXPORTER_OTLP_CERTIFICATE`,
/// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `OTEL_EXPORTER_OTLP_CLIENT_KEY` give it:
/// PEM files, read by [`init`](crate::init) (a missing or unreadable file is an init error
/// naming where the path came from).
///
/// Without a CA file, `https://` endpoints are verified against the system's roots.
///
/// ```
/// use teei_obs::config::{Config, OtlpTls};
///
/// let config = Config::new("checkout").otlp_tls(
///     OtlpTls::default()
///         .ca_certificate("/etc/otel/ca.pem")
///         .client_certificate("/etc/otel/client.pem", "/etc/otel/client.key"),
/// );
/// # let _ = config;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtlpTls {
    pub(crate) ca: Option<PemFile>,
    pub(crate) client_certificate: Option<PemFile>,
    pub(crate) client_key: Option<PemFile>,
}

/// A PEM file and where its path came from (a variable or a builder method).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PemFile {
    pub(crate) origin: &'static str,
    pub(crate) path: std::path::PathBuf,
}

impl OtlpTls {
    /// Trusts only the CA certificates in `path` (PEM) for the collector's certificate.
    pub fn ca_certificate(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca = Some(PemFile {
            origin: "OtlpTls::ca_certificate",
            path: path.into(),
        });
        self
    }

    /// Presents the certificate chain in `certificate` with the private key in `key`
    /// (both PEM) to the collector: mutual TLS.
    pub fn client_certificate(
        mut self,
        certificate: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.client_certificate = Some(PemFile {
            origin: "OtlpTls::client_certificate",
            path: certificate.into(),
        });
        self.client_key = Some(PemFile {
            origin: "OtlpTls::client_certificate",
            path: key.into(),
        });
        self
    }
}

/// Configuration of [`init`](crate::init).
///
/// # Environment
///
#[doc = include_str!("../../../docs/configuration.md")]
///
/// # Example
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
    pub(crate) service_version: Option<String>,
    pub(crate) environment: String,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) sdk_disabled: bool,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) opentelemetry_api: bool,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) traces: Option<TraceExport>,
    pub(crate) otlp_headers: Vec<(String, String)>,
    pub(crate) compression: Compression,
    pub(crate) tls: OtlpTls,
    pub(crate) export_timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) max_batch: usize,
    pub(crate) schedule_delay: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) log_filter: String,
    pub(crate) traces_filter: String,
    pub(crate) log_bridge: bool,
    pub(crate) install_subscriber: bool,
    pub(crate) install_metrics_recorder: bool,
    pub(crate) memory_capacity: usize,
    pub(crate) state: crate::health::State,
    pub(crate) damping: crate::health::Damping,
    pub(crate) health_details: bool,
    pub(crate) drain_delay: Duration,
    pub(crate) log_format: Option<crate::log::LogFormat>,
    pub(crate) redactor: crate::redact::Redactor,
    pub(crate) capture_logs: bool,
    /// `None`: on outside `production`.
    pub(crate) console: Option<bool>,
    pub(crate) report_every_level: bool,
    pub(crate) console_limits: ConsoleLimits,
    #[cfg(feature = "sentry")]
    pub(crate) sentry: Option<crate::errors::SentrySettings>,
}

#[cfg(feature = "console")]
pub use crate::console::ConsoleLimits;

/// How much the console keeps (without the `console` feature, kept for the builder).
#[cfg(not(feature = "console"))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleLimits {
    /// Traces kept.
    pub traces: usize,
    /// Spans kept of one trace.
    pub spans_per_trace: usize,
    /// Log lines kept.
    pub logs: usize,
}

/// The propagators in force when `OTEL_PROPAGATORS` is not set.
pub const DEFAULT_PROPAGATORS: [Propagator; 2] = [Propagator::TraceContext, Propagator::Baggage];

impl Config {
    /// A configuration for `service_name` with no environment applied and no service
    /// version (use [`config!`](crate::config!) to get the calling crate's, or
    /// [`Config::service_version`]).
    pub fn new(service_name: impl Into<String>) -> Self {
        Config {
            service_name: service_name.into(),
            service_version: None,
            environment: "development".to_owned(),
            resource_attributes: Vec::new(),
            sdk_disabled: false,
            propagators: DEFAULT_PROPAGATORS.to_vec(),
            opentelemetry_api: true,
            sampler: None,
            traces: None,
            otlp_headers: Vec::new(),
            compression: Compression::None,
            tls: OtlpTls::default(),
            export_timeout: Duration::from_secs(10),
            queue_capacity: 2048,
            max_batch: 512,
            schedule_delay: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(5),
            log_filter: "info".to_owned(),
            traces_filter: "info".to_owned(),
            log_bridge: true,
            install_subscriber: true,
            install_metrics_recorder: true,
            memory_capacity: 1024,
            state: crate::health::State::default(),
            damping: crate::health::Damping::default(),
            health_details: true,
            drain_delay: Duration::from_secs(5),
            log_format: None,
            redactor: crate::redact::Redactor::default(),
            capture_logs: false,
            console: None,
            report_every_level: false,
            console_limits: ConsoleLimits::default(),
            #[cfg(feature = "sentry")]
            sentry: None,
        }
    }

    /// Reads the process environment; see the table above. Prefer [`config!`](crate::config!),
    /// which also gives the service its crate's name and version as defaults.
    pub fn from_env() -> Result<Self, InitError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// What [`config!`](crate::config!) expands to: the process environment over the
    /// defaults `crate_name` (service name) and `crate_version` (service version, Sentry
    /// release).
    pub fn from_env_for(crate_name: &str, crate_version: &str) -> Result<Self, InitError> {
        Config::from_lookup_for(crate_name, crate_version, |name| std::env::var(name).ok())
    }

    /// Reads the variables of the table above through `lookup` instead of the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        Config::read(Config::new("unknown_service"), &lookup)
    }

    /// [`Config::from_lookup`] over the defaults `crate_name` and `crate_version`.
    pub fn from_lookup_for(
        crate_name: &str,
        crate_version: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, InitError> {
        let defaults = Config::new(crate_name).service_version(crate_version);
        Config::read(defaults, &lookup)
    }

    fn read(
        mut config: Config,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, InitError> {
        let env = env::Env(lookup);
        let invalid = env::invalid;
        config.resource_attributes = env.resource_attributes()?;
        let from_resource = |key: &str| {
            config
                .resource_attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        if let Some(name) = env
            .var("OTEL_SERVICE_NAME")
            .or_else(|| from_resource("service.name"))
        {
            config.service_name = name;
        }
        if let Some(version) = env
            .var("SERVICE_VERSION")
            .or_else(|| from_resource("service.version"))
        {
            config.service_version = Some(version);
        }
        if let Some(environment) = env
            .var("DEPLOYMENT_ENVIRONMENT")
            .or_else(|| from_resource("deployment.environment.name"))
            .or_else(|| from_resource("deployment.environment"))
        {
            config.environment = environment;
        }
        config.sdk_disabled = env.boolean("OTEL_SDK_DISABLED")?.unwrap_or(false);
        if let Some(propagators) = env.propagators()? {
            config.propagators = propagators;
        }
        if let Some(sampler) = env.var("OTEL_TRACES_SAMPLER") {
            let arg = env.var("OTEL_TRACES_SAMPLER_ARG");
            config.sampler = Some(
                Sampler::parse(&sampler, arg.as_deref())
                    .map_err(|error| invalid(error.variable, error.value, error.expected))?,
            );
        }
        if let Some(timeout) = env
            .millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")?
            .or(env.millis("OTEL_EXPORTER_OTLP_TIMEOUT")?)
        {
            config.export_timeout = timeout;
        }
        if let Some(delay) = env.millis("OTEL_BSP_SCHEDULE_DELAY")? {
            config.schedule_delay = delay;
        }
        if let Some(capacity) = env.count("OTEL_BSP_MAX_QUEUE_SIZE")? {
            config.queue_capacity = capacity;
        }
        if let Some(batch) = env.count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            config.max_batch = batch;
        }
        if let Some(on) = env.boolean("TEEI_OBS_CONSOLE")? {
            config.console = Some(on);
        }
        let limits = &mut config.console_limits;
        for (name, limit) in [
            ("TEEI_OBS_CONSOLE_TRACES", &mut limits.traces),
            (
                "TEEI_OBS_CONSOLE_SPANS_PER_TRACE",
                &mut limits.spans_per_trace,
            ),
            ("TEEI_OBS_CONSOLE_LOGS", &mut limits.logs),
        ] {
            if let Some(value) = env.count(name)? {
                *limit = value;
            }
        }
        if let Some(filter) = env.var("RUST_LOG") {
            config.log_filter = filter;
        }
        if let Some(filter) = env.var("OTEL_TRACES_FILTER") {
            config.traces_filter = filter;
        }
        // Both checked now, so a bad value fails here with its variable's name.
        crate::trace::Filters::parse(&config.log_filter, &config.traces_filter)?;

        #[cfg(not(feature = "sentry"))]
        if env.var("SENTRY_DSN").is_some() {
            return Err(invalid(
                "SENTRY_DSN",
                "<hidden>".to_owned(),
                "no value: this build of teei-obs has no `sentry` feature",
            ));
        }
        #[cfg(feature = "sentry")]
        if let Some(dsn) = env.var("SENTRY_DSN") {
            let rate = |name: &'static str, default: f32| -> Result<f32, InitError> {
                match env.var(name) {
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
            });
        }
        // Traces go to OpenTelemetry; Sentry performance transactions would be a second,
        // differently sampled copy of them. Refused rather than silently ignored.
        #[cfg(feature = "sentry")]
        if let Some(value) = env.var("SENTRY_TRACES_SAMPLE_RATE")
            && value.trim().parse::<f32>() != Ok(0.0)
        {
            return Err(invalid(
                "SENTRY_TRACES_SAMPLE_RATE",
                value,
                "0 or unset: teei-obs sends traces to OpenTelemetry (OTEL_TRACES_SAMPLER), \
                 not as Sentry transactions",
            ));
        }
        config.log_format = match env.var("LOG_FORMAT").as_deref() {
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
        config.otlp_headers = env.headers()?;
        config.compression = env.compression()?;
        config.tls = env.tls();
        let explicit_otlp = match env.var("OTEL_TRACES_EXPORTER").as_deref() {
            None => false,
            Some("otlp") => true,
            Some("console") => {
                config.traces = Some(TraceExport::Console);
                false
            }
            Some("memory") => {
                config.traces = Some(TraceExport::Memory);
                false
            }
            Some("none") => {
                config.traces = Some(TraceExport::None);
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
        if config.traces.is_none()
            && let Some((endpoint, protocol)) = env.endpoint(explicit_otlp)?
        {
            config.traces = Some(TraceExport::Otlp { endpoint, protocol });
        }
        Ok(config)
    }

    /// Sets the service name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets the service version (`service.version`, the Sentry release).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Adds `key = value` to the exported resource (as `OTEL_RESOURCE_ATTRIBUTES` does);
    /// `service.name`, `service.version` and `deployment.environment.name` come from their
    /// own settings and win over these.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.resource_attributes.retain(|(k, _)| *k != key);
        self.resource_attributes.push((key, value.into()));
        self
    }

    /// Whether no span leaves the process (as `OTEL_SDK_DISABLED=true`); metrics and
    /// health are served either way.
    pub fn sdk_disabled(mut self, disabled: bool) -> Self {
        self.sdk_disabled = disabled;
        self
    }

    /// Sets the propagation formats read from incoming and written to outgoing requests
    /// and messages (as `OTEL_PROPAGATORS`); an empty list propagates nothing but the
    /// correlation and causation IDs.
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.propagators = propagators.into_iter().collect();
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
        self.opentelemetry_api = enabled;
        self
    }

    /// Adds a header sent with every OTLP export (as `OTEL_EXPORTER_OTLP_HEADERS`).
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.otlp_headers.push((name.into(), value.into()));
        self
    }

    /// Sets the compression of OTLP export requests.
    pub fn otlp_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the TLS material for `https://` OTLP endpoints (as the
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` family does).
    pub fn otlp_tls(mut self, tls: OtlpTls) -> Self {
        self.tls = tls;
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
    #[cfg(feature = "sentry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
    pub fn sentry_dsn(mut self, dsn: &str) -> Result<Self, InitError> {
        let dsn = dsn.parse().map_err(|_| InitError::InvalidEnv {
            variable: "SENTRY_DSN",
            value: dsn.to_owned(),
            expected: "a Sentry DSN: https://<key>@<host>/<project id>",
        })?;
        self.sentry = Some(crate::errors::SentrySettings {
            dsn,
            sample_rate: 1.0,
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

    /// Switches the embedded console ([`console`](crate::console), mounted at `/obs` by
    /// [`Obs::router`](crate::Obs::router)) on or off, whatever the environment
    /// (`TEEI_OBS_CONSOLE`); by default it is on outside `production`.
    pub fn console(mut self, on: bool) -> Self {
        self.console = Some(on);
        self
    }

    /// Logs (and sends to Sentry) an error at every `#[traced(err)]` level it passes, as
    /// before one report per error ([`trace::reports`](crate::trace::reports) has the
    /// rule). Process-wide, set by `init`. Every span it passes has status error either way.
    pub fn report_errors_at_every_level(mut self, on: bool) -> Self {
        self.report_every_level = on;
        self
    }

    /// How much the console keeps in memory (`TEEI_OBS_CONSOLE_TRACES`,
    /// `TEEI_OBS_CONSOLE_SPANS_PER_TRACE`, `TEEI_OBS_CONSOLE_LOGS`).
    pub fn console_limits(mut self, limits: ConsoleLimits) -> Self {
        self.console_limits = limits;
        self
    }

    /// Whether `init` starts the console: [`Config::console`] or `TEEI_OBS_CONSOLE` if
    /// set, else on outside `production` (always off without the `console` feature).
    pub fn console_enabled(&self) -> bool {
        cfg!(feature = "console")
            && self
                .console
                .unwrap_or_else(|| self.environment != "production")
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

    /// Sets which events become log lines and Sentry events (`RUST_LOG`, the full
    /// `EnvFilter` syntax: `info`, `my_crate=debug,info`, `my_crate[handler{id=7}]=debug`).
    /// It does not decide which spans are traced: see [`Config::traces_filter`].
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = filter.into();
        self
    }

    /// Sets which spans are recorded and exported, and which events are attached to them
    /// (`OTEL_TRACES_FILTER`, `level` and `target=level` directives; default `info`), apart
    /// from the log filter: `RUST_LOG=warn` keeps traces whole.
    pub fn traces_filter(mut self, filter: impl Into<String>) -> Self {
        self.traces_filter = filter.into();
        self
    }

    /// Whether `init` routes records of the `log` crate (reqwest, rustls, tokio-postgres…)
    /// into the same lines through `tracing-log` (on by default; once per process).
    pub fn log_bridge(mut self, bridge: bool) -> Self {
        self.log_bridge = bridge;
        self
    }

    /// Whether `init` installs its subscriber as the global default (it does by default);
    /// without it, compose [`Obs::layers`](crate::Obs::layers) into your own `Registry`.
    pub fn install_subscriber(mut self, install: bool) -> Self {
        self.install_subscriber = install;
        self
    }

    /// Whether `init` installs a [`metrics`](https://docs.rs/metrics) recorder, so the
    /// facade's counters, gauges and histogram (`metrics::counter!("jobs_total", "queue" =>
    /// "a")`) appear on `/metrics` with their labels (on by default, with the
    /// `metrics-facade` feature; once per process — a service that installed its own
    /// recorder turns this off).
    pub fn install_metrics_recorder(mut self, install: bool) -> Self {
        self.install_metrics_recorder = install;
        self
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.service_name
    }

    /// The service version, if one is known.
    pub fn version(&self) -> Option<&str> {
        self.service_version.as_deref()
    }

    /// The extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, [`Config::resource_attribute`]).
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_attributes
    }

    /// The propagation formats in force.
    pub fn effective_propagators(&self) -> &[Propagator] {
        &self.propagators
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

    /// Where spans go: the configured export, else the in-memory ring buffer; nowhere when
    /// the SDK is disabled.
    pub fn effective_trace_export(&self) -> TraceExport {
        if self.sdk_disabled {
            return TraceExport::None;
        }
        self.traces.clone().unwrap_or(TraceExport::Memory)
    }
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
        let config = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(
            config.effective_trace_export(),
            TraceExport::Otlp {
                endpoint: "http://collector:4318/v1/traces".into(),
                protocol: Protocol::HttpProtobuf
            }
        );
        let grpc = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .unwrap();
        assert!(matches!(
            grpc.effective_trace_export(),
            TraceExport::Otlp {
                protocol: Protocol::Grpc,
                ..
            }
        ));
    }

    #[test]
    fn the_default_protocol_is_http_protobuf_and_grpc_takes_host_port() {
        let http = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://ingest.example:4318")]).unwrap();
        assert_eq!(
            http.effective_trace_export(),
            TraceExport::Otlp {
                endpoint: "https://ingest.example:4318/v1/traces".into(),
                protocol: Protocol::HttpProtobuf
            }
        );
        let endpoint = |vars: &[(&str, &str)]| match from(vars).unwrap().effective_trace_export() {
            TraceExport::Otlp { endpoint, .. } => endpoint,
            other => panic!("{other:?}"),
        };
        let grpc = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ];
        assert_eq!(endpoint(&grpc), "https://collector:4317");
        let insecure = [grpc[0], grpc[1], ("OTEL_EXPORTER_OTLP_INSECURE", "true")];
        assert_eq!(endpoint(&insecure), "http://collector:4317");
        // The signal's own variables win over the general ones.
        let traces = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces:9999/custom",
            ),
        ];
        assert_eq!(endpoint(&traces), "http://traces:9999/custom");
        assert_eq!(
            endpoint(&[("OTEL_TRACES_EXPORTER", "otlp")]),
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn resource_attributes_fill_in_under_the_explicit_settings() {
        let config = from(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs, team=a%2Cb ,service.version=1.2.3",
        )])
        .unwrap();
        assert_eq!(config.name(), "from-attrs");
        assert_eq!(config.version(), Some("1.2.3"));
        assert!(
            config
                .resource_attributes()
                .contains(&("team".to_owned(), "a,b".to_owned()))
        );
        let config = from(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
            ("OTEL_SERVICE_NAME", "explicit"),
        ])
        .unwrap();
        assert_eq!(config.name(), "explicit");
    }

    #[test]
    fn propagators_headers_compression_and_the_off_switch() {
        let config = from(&[
            ("OTEL_PROPAGATORS", "b3multi, tracecontext,b3multi"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-general=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=a%20b"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ])
        .unwrap();
        assert_eq!(
            config.effective_propagators(),
            [Propagator::B3Multi, Propagator::TraceContext]
        );
        assert_eq!(
            config.otlp_headers,
            [("api-key".to_owned(), "a b".to_owned())]
        );
        assert_eq!(config.compression, Compression::Gzip);
        let none = from(&[("OTEL_PROPAGATORS", "none")]).unwrap();
        assert!(none.effective_propagators().is_empty());
        assert_eq!(
            from(&[]).unwrap().effective_propagators(),
            DEFAULT_PROPAGATORS
        );

        let disabled = from(&[
            ("OTEL_SDK_DISABLED", "TRUE"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ])
        .unwrap();
        assert_eq!(disabled.effective_trace_export(), TraceExport::None);
    }

    #[test]
    fn header_errors_name_the_variable_but_not_the_value() {
        let error = from(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20s3cr3t,oops",
        )])
        .unwrap_err()
        .to_string();
        assert!(error.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{error}");
        assert!(error.contains("entry 2"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
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
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc+tls"),
            ("OTEL_PROPAGATORS", "tracecontext,xray"),
            ("OTEL_PROPAGATORS", "none,b3"),
            ("OTEL_SDK_DISABLED", "yes"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "1"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "br"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team"),
            ("OTEL_RESOURCE_ATTRIBUTES", "=a"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=%zz"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=b,bad key=c"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "ten"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_TRACES_SAMPLER", "maybe"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5s"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("RUST_LOG", "info,=,x=loud"),
            ("LOG_FORMAT", "xml"),
            ("SENTRY_DSN", "not a dsn"),
            ("SENTRY_TRACES_SAMPLE_RATE", "0.2"),
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

    #[test]
    #[cfg(feature = "sentry")]
    fn a_sentry_traces_rate_is_refused_naming_opentelemetry_and_zero_is_accepted() {
        let error = from(&[("SENTRY_TRACES_SAMPLE_RATE", "1")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("OpenTelemetry"), "{error}");
        assert!(from(&[("SENTRY_TRACES_SAMPLE_RATE", "0")]).is_ok());
        assert!(from(&[("SENTRY_TRACES_SAMPLE_RATE", "0.0")]).is_ok());
    }
}
