//! What [`init`](crate::init) is told: the standard environment variables first, builder
//! methods over them. An invalid value is an error naming the variable and what it
//! accepts — never a silent default.

use std::time::Duration;

use crate::InitError;

mod console;
mod env;
mod error_tracking;
mod export;
mod health;
mod log;
mod service;
#[cfg(test)]
mod tests;
mod trace;

pub use console::ConsoleLimits;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) use export::PemFile;
pub use export::{Compression, CustomExporter, OtlpTls, Protocol, TraceExport};
pub use trace::{DEFAULT_PROPAGATORS, Propagator};

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
    pub(crate) service: service::ServiceSettings,
    pub(crate) trace: trace::TraceSettings,
    pub(crate) export: export::ExportSettings,
    pub(crate) log: log::LogSettings,
    pub(crate) health: health::HealthSettings,
    pub(crate) console: console::ConsoleSettings,
    pub(crate) error_tracking: error_tracking::ErrorTrackingSettings,
    /// Redaction applies to every sink: spans, log lines, Sentry events, the console.
    pub(crate) redactor: crate::redact::Redactor,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) install_subscriber: bool,
    pub(crate) install_metrics_recorder: bool,
}

impl Config {
    /// A configuration for `service_name` with no environment applied and no service
    /// version (use [`config!`](crate::config!) to get the calling crate's, or
    /// [`Config::service_version`]).
    pub fn new(service_name: impl Into<String>) -> Self {
        Config {
            service: service::ServiceSettings::new(service_name.into()),
            trace: trace::TraceSettings::default(),
            export: export::ExportSettings::default(),
            log: log::LogSettings::default(),
            health: health::HealthSettings::default(),
            console: console::ConsoleSettings::default(),
            error_tracking: error_tracking::ErrorTrackingSettings::default(),
            redactor: crate::redact::Redactor::default(),
            shutdown_timeout: Duration::from_secs(5),
            install_subscriber: true,
            install_metrics_recorder: true,
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

    /// Each subsystem reads its own variables over `config`'s values.
    fn read(
        mut config: Config,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, InitError> {
        let env = env::Env(lookup);
        config.service.read(&env)?;
        config.trace.read(&env)?;
        config.export.read(&env)?;
        config.log.read(&env)?;
        config.console.read(&env)?;
        config.error_tracking.read(&env)?;
        // Both filters checked now, so a bad value fails here with its variable's name.
        crate::trace::Filters::parse(&config.log.filter, &config.trace.filter)?;
        Ok(config)
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

    /// Sets the bound on [`Obs::shutdown`](crate::Obs::shutdown).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
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
}
