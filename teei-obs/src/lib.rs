#![cfg_attr(docsrs, feature(doc_cfg))]
//! Observability for Rust services from attributes: one annotation gives a function its
//! metrics, one [`init`] serves them.
//!
//! ```
//! use teei_obs::counted;
//!
//! #[derive(Debug)]
//! struct OutOfStock;
//!
//! #[counted(duration)]
//! fn reserve(items: u32) -> Result<u32, OutOfStock> {
//!     if items > 3 { Err(OutOfStock) } else { Ok(items) }
//! }
//!
//! let obs = teei_obs::init(teei_obs::Config::new("shop")).expect("valid registry");
//! reserve(1).unwrap();
//! let _ = reserve(9);
//!
//! let text = obs.render_metrics();
//! let series = |result| {
//!     format!(r#"function_calls_total{{function="reserve",module="{}",result="{result}"}} 1"#, module_path!())
//! };
//! assert!(text.contains(&series("ok")), "{text}");
//! assert!(text.contains(&series("error")), "{text}");
//! // Serve it: axum::serve(listener, obs.router())
//! let _router: axum::Router = obs.router();
//! ```
//!
//! # Features
//!
//! `default-features = false` still builds a service with `/metrics`, the four `/health`
//! endpoints, logs, the in-memory span sink and propagation; each feature adds an edge:
//!
#![doc = document_features::document_features!()]
//!
//! # How it works
//!
//! The macros expand each annotated function into the function itself, wrapped, and a
//! `static` entry in a `linkme` distributed slice holding the function's name, module,
//! source location and its own metric storage. [`init`] reads the slice, validates it
//! (names, duplicated series and check names, reported with both source locations) and
//! exposes the storage to Prometheus; a call only adds to cells its own `static` owns.
//!
//! Registrations use `#[link_section]`, which the `unsafe_code` lint covers: the generated
//! statics allow it locally, but a crate with `#![forbid(unsafe_code)]` cannot host
//! annotated functions (`forbid` cannot be overridden). Use `deny` instead.
//!
//! # Guides
//!
//! - [`counted`]: the function metrics and their options.
//! - [`traced`] and [`trace`]: spans, sampling, export and propagation.
//! - [`health_check`] and [`health`]: dependency checks, probes and graceful shutdown.
//! - [`log`], [`redact`] and [`errors`]: log lines, the redaction policy, Sentry.
//! - [`metrics`]: names, labels and buckets of the exported series.
//! - [`registry`]: what is registered and the linker caveat for uncalled crates.
//! - [`ops`]: Grafana dashboards, provisioning and Prometheus alert rules generated from the
//!   registry; runbooks in `docs/runbooks/`.

pub mod client;
pub mod config;
#[cfg(feature = "console")]
#[cfg_attr(docsrs, doc(cfg(feature = "console")))]
pub mod console;
#[cfg(feature = "sentry")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
pub mod errors;
#[doc = include_str!("../../docs/guide.md")]
pub mod guide {}
mod error_probe;
mod hash;
pub mod health;
pub mod http;
pub mod log;
pub mod metrics;
#[cfg(feature = "ops")]
pub mod ops;
pub mod redact;
pub mod registry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod time;
pub mod trace;

use std::fmt;
use std::sync::Arc;

use opentelemetry::KeyValue;

pub use config::Config;
use config::TraceExport;
#[doc = include_str!("../../docs/counted.md")]
pub use teei_obs_macros::counted;
#[doc = include_str!("../../docs/health_check.md")]
pub use teei_obs_macros::health_check;
#[doc = include_str!("../../docs/traced.md")]
pub use teei_obs_macros::traced;

/// Why [`init`] refused to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The registry holds invalid or conflicting entries.
    #[error("{}", RegistryProblems(.0))]
    Registry(Vec<registry::RegistryError>),
    /// An environment variable holds a value that cannot be used.
    #[error("invalid value {value:?} for {variable}: expected {expected}")]
    InvalidEnv {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// `RUST_LOG` or `OTEL_TRACES_FILTER` holds a directive that cannot be parsed.
    #[error("invalid value for {variable}: {problem}")]
    InvalidFilter {
        /// The variable.
        variable: &'static str,
        /// The parser's message.
        problem: String,
    },
    /// Prometheus refused a collector.
    #[error("cannot register metrics: {0}")]
    Prometheus(#[from] prometheus::Error),
    /// The span exporter could not be built.
    #[error("cannot start span export: {0}")]
    Exporter(String),
    /// `OTEL_EXPORTER_OTLP_HEADERS` (or its `_TRACES_` form) is malformed; the message names
    /// the entry, never a value.
    #[error("invalid value for {variable}: {problem}")]
    InvalidHeaders {
        /// The variable.
        variable: &'static str,
        /// What is wrong, without the values.
        problem: String,
    },
    /// A TLS certificate or key file for OTLP is missing, unreadable or holds no PEM data.
    #[error("cannot use {} from {origin}: {reason}", path.display())]
    Certificate {
        /// The variable (or builder method) the path came from.
        origin: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Health checks need state nobody provided.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    MissingState(Vec<health::MissingState>),
}

struct RegistryProblems<'a>(&'a [registry::RegistryError]);

impl fmt::Display for RegistryProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "teei-obs registry has {} problem(s):", self.0.len())?;
        for problem in self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// The running observability of a service, returned by [`init`].
///
/// Cheap to clone; every clone shares the pipelines.
#[derive(Clone, Debug)]
pub struct Obs {
    config: Config,
    registry: prometheus::Registry,
    functions: usize,
    pipeline: Arc<trace::Pipeline>,
    core: trace::Core,
    filters: trace::Filters,
    logs: log::LogOutput,
    subscriber_installed: bool,
    health: Arc<health::HealthManager>,
    #[cfg(feature = "sentry")]
    error_tracking: Option<Arc<errors::ErrorTracking>>,
    http_metrics: Arc<http::HttpMetrics>,
    standard_metrics: metrics::StandardMetrics,
    exposition: Arc<http::Exposition>,
    #[cfg(feature = "console")]
    console: Option<console::Console>,
}

/// An error and its `source()` chain as one text, `outer: cause: root cause` (reqwest's
/// own Display, for one, leaves out why a connection failed).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Validates the registry and builds the pipelines.
///
/// Fails with every problem of the registry at once (invalid names, two functions
/// exporting the same series, two health checks of one name, each cited with its
/// `file:line`), or when the span exporter
/// cannot be built; never panics. Unless told otherwise
/// ([`Config::install_subscriber`]), it installs the global `tracing` subscriber; if one is
/// already installed it leaves it and says so in a warning.
pub fn init(config: Config) -> Result<Obs, InitError> {
    let entries: Vec<_> = registry::functions().collect();
    let mut problems = registry::validate(entries.iter().copied());
    problems.extend(health::validate(health::checks()));
    if !problems.is_empty() {
        return Err(InitError::Registry(problems));
    }
    metrics::warm_up_clock();
    trace::reports::report_at_every_level(config.error_tracking.report_every_level);
    let functions = entries.len();
    let registry = prometheus::Registry::new();
    registry.register(Box::new(metrics::FunctionCollector::new(entries.clone())?))?;
    let filters = trace::Filters::parse(&config.log.filter, &config.trace.filter)?;
    let pipeline = Arc::new(build_pipeline(&config, &registry)?);
    trace::install_propagators(&config.trace.propagators);
    let (http_metrics, standard_metrics) = install_metrics(&config, &registry)?;
    #[cfg(feature = "sentry")]
    let error_tracking = install_error_tracking(&config, &registry)?;
    trace::install_panic_hook();
    let health = install_health(&config, &registry)?;
    let core = install_tracing(&config, &pipeline);
    #[cfg(feature = "console")]
    let console = install_console(&config, &pipeline);
    let logs = log_output(
        &config,
        #[cfg(feature = "console")]
        console.clone(),
    );
    let subscriber_installed = install_subscriber(&config, &core, &filters, &logs, &registry);
    let checks = health::checks().len();
    tracing::info!(
        service = config.name(),
        functions,
        checks,
        "teei-obs initialised with {functions} annotated function(s) and {checks} health check(s)"
    );
    let exposition = Arc::new(http::Exposition {
        registry: registry.clone(),
        functions: metrics::FunctionCollector::new(entries)?,
        http: http_metrics.clone(),
        standard: standard_metrics.clone(),
    });
    Ok(Obs {
        config,
        registry,
        functions,
        pipeline,
        core,
        filters,
        logs,
        subscriber_installed,
        health,
        #[cfg(feature = "sentry")]
        error_tracking,
        exposition,
        http_metrics,
        standard_metrics,
        #[cfg(feature = "console")]
        console,
    })
}

/// The metric families of every service on `registry`: HTTP, the standard families, the
/// process and the runtime, build info, and the scheduling-delay probe.
fn install_metrics(
    config: &Config,
    registry: &prometheus::Registry,
) -> Result<(Arc<http::HttpMetrics>, metrics::StandardMetrics), InitError> {
    let http_metrics = Arc::new(http::HttpMetrics::new(registry)?);
    let standard_metrics = metrics::StandardMetrics::new(registry)?;
    #[cfg(target_os = "linux")]
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    registry.register(Box::new(metrics::RuntimeCollector::new()?))?;
    registry.register(Box::new(metrics::build_info(config)?))?;
    let scheduling_delay = prometheus::Gauge::new(
        crate::metrics::names::TOKIO_SCHEDULING_DELAY_SECONDS,
        "How late a 1 s timer last fired on the runtime (event-loop lag)",
    )?;
    registry.register(Box::new(scheduling_delay.clone()))?;
    metrics::start_scheduling_delay_probe(scheduling_delay);
    Ok((http_metrics, standard_metrics))
}

/// Sentry's client, when a DSN is configured.
#[cfg(feature = "sentry")]
fn install_error_tracking(
    config: &Config,
    registry: &prometheus::Registry,
) -> Result<Option<Arc<errors::ErrorTracking>>, InitError> {
    let Some(settings) = &config.error_tracking.sentry else {
        return Ok(None);
    };
    let service = errors::ServiceInfo {
        name: config.service.name.clone(),
        release: config.service.version.clone(),
        environment: config.service.environment.clone(),
        redactor: config.redactor.clone(),
    };
    Ok(Some(Arc::new(errors::init(settings, &service, registry)?)))
}

/// The health manager over the registered checks, started.
fn install_health(
    config: &Config,
    registry: &prometheus::Registry,
) -> Result<Arc<health::HealthManager>, InitError> {
    let health = Arc::new(health::HealthManager::new(
        health::checks(),
        config.health.state.clone(),
        config.service.name.clone(),
        config.service.version.clone().unwrap_or_default(),
        config.health.damping,
        config.health.details,
        registry,
    )?);
    health.start();
    Ok(health)
}

/// The span recorder, and OpenTelemetry's global tracer provider on the same pipeline.
fn install_tracing(config: &Config, pipeline: &Arc<trace::Pipeline>) -> trace::Core {
    let core = trace::Core::new(
        config.effective_sampler(),
        pipeline.clone(),
        config.redactor.clone(),
    );
    if config.trace.opentelemetry_api {
        trace::install_tracer_provider(
            pipeline.clone(),
            config.effective_sampler(),
            config.redactor.clone(),
        );
    }
    core
}

/// The embedded console, fed every span the pipeline exports or keeps, when it is on.
#[cfg(feature = "console")]
fn install_console(config: &Config, pipeline: &trace::Pipeline) -> Option<console::Console> {
    config.console_enabled().then(|| {
        let console = console::Console::new(
            &config.service.name,
            config.redactor.clone(),
            config.console.limits,
        );
        let tap = console.clone();
        pipeline.set_tap(Box::new(move |spans| tap.record_spans(spans)));
        console
    })
}

/// Where and how log lines are written.
fn log_output(
    config: &Config,
    #[cfg(feature = "console")] console: Option<console::Console>,
) -> log::LogOutput {
    log::LogOutput {
        format: config.effective_log_format(),
        service: config.service.name.clone(),
        environment: config.service.environment.clone(),
        version: config.service.version.clone().unwrap_or_default(),
        redactor: config.redactor.clone(),
        sink: if config.log.capture {
            log::LogSink::Memory(Default::default())
        } else {
            log::LogSink::Stderr
        },
        #[cfg(feature = "console")]
        console,
    }
}

/// The global `tracing` subscriber (unless told not to, or one is there already: then a
/// warning), the `log` bridge, and the `metrics` facade's recorder on `registry`. Whether
/// the subscriber was installed.
fn install_subscriber(
    config: &Config,
    core: &trace::Core,
    filters: &trace::Filters,
    logs: &log::LogOutput,
    #[cfg_attr(not(feature = "metrics-facade"), allow(unused_variables))]
    registry: &prometheus::Registry,
) -> bool {
    let installed = config.install_subscriber
        && tracing::subscriber::set_global_default(make_subscriber(
            core,
            filters,
            logs,
            &config.redactor,
        ))
        .is_ok();
    if config.log.bridge {
        install_log_bridge(filters);
    }
    #[cfg(feature = "metrics-facade")]
    if config.install_metrics_recorder {
        // The facade's metrics go into this service's registry, next to its own.
        let recorder = metrics_prometheus::Recorder::builder()
            .with_registry(registry.clone())
            .build();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "a `metrics` recorder was already installed; `metrics::counter!` and friends go there, not to this /metrics"
            );
        }
    }
    if config.install_subscriber && !installed {
        tracing::warn!(
            "a global tracing subscriber was already installed; teei-obs spans go through it"
        );
    }
    installed
}

fn build_pipeline(
    config: &Config,
    registry: &prometheus::Registry,
) -> Result<trace::Pipeline, InitError> {
    let metrics = trace::PipelineMetrics::new(registry)?;
    let resource = resource(config);
    let settings = trace::QueueSettings {
        capacity: config.export.queue_capacity,
        max_batch: config.export.max_batch,
        delay: config.export.schedule_delay,
        export_timeout: config.export.timeout,
    };
    Ok(match config.effective_trace_export() {
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        TraceExport::Otlp { endpoint, protocol } => {
            let otlp = trace::OtlpSettings::load(config, endpoint, protocol)?;
            trace::Pipeline::exporting(move || otlp.build(), resource, settings, metrics)
                .map_err(InitError::Exporter)?
        }
        #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
        TraceExport::Otlp { endpoint, .. } => {
            return Err(InitError::Exporter(format!(
                "{endpoint}: this build of teei-obs has no OTLP exporter \
                 (enable the `otlp-http` or `otlp-grpc` feature)"
            )));
        }
        TraceExport::Custom(custom) => {
            (custom.0)(resource, settings, metrics).map_err(InitError::Exporter)?
        }
        TraceExport::Console => trace::Pipeline::console(metrics),
        TraceExport::Memory => trace::Pipeline::memory(config.trace.memory_capacity, metrics),
        TraceExport::None => trace::Pipeline::off(metrics),
    })
}

/// `init`'s subscriber: the fast one for plain log directives, a `Registry` with the
/// layers otherwise.
fn make_subscriber(
    core: &trace::Core,
    filters: &trace::Filters,
    logs: &log::LogOutput,
    redactor: &redact::Redactor,
) -> trace::TeeiSubscriber {
    use tracing_subscriber::layer::SubscriberExt;
    match filters.log.targets() {
        Some(targets) => trace::TeeiSubscriber::fast(
            core.clone(),
            targets.clone(),
            filters.traces.clone(),
            logs.clone(),
        ),
        None => trace::TeeiSubscriber::composed(Box::new(
            tracing_subscriber::registry().with(compose_layers(core, filters, logs, redactor)),
        )),
    }
}

/// The three sinks as layers, each behind its filter.
fn compose_layers<S>(
    core: &trace::Core,
    filters: &trace::Filters,
    logs: &log::LogOutput,
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables))] redactor: &redact::Redactor,
) -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    // A `Vec`, not `and_then`: a `Layered` of two filtered layers over `S = Registry` takes
    // itself for the registry and reports only the outer layer's level hint, which would
    // switch off the traced INFO spans whenever `RUST_LOG=warn`.
    #[allow(unused_mut)]
    let mut layers: Vec<Box<dyn Layer<S> + Send + Sync + 'static>> = vec![
        trace::OtelLayer::new(core.clone())
            .with_filter(filters.traces.clone())
            .boxed(),
        log::LogLayer::new(logs.clone())
            .with_filter(filters.log.layer_filter())
            .boxed(),
    ];
    #[cfg(feature = "sentry")]
    layers.push(
        errors::SentryLayer::new(redactor.clone())
            .with_filter(filters.log.layer_filter())
            .boxed(),
    );
    trace::Sinks::new(layers)
}

/// Routes the `log` crate's records into `tracing`, up to the most verbose level the log
/// filter lets through; a logger already set (by the service, or an earlier `init`) stays.
fn install_log_bridge(filters: &trace::Filters) {
    use tracing_log::AsLog;
    let max = filters.log.targets().map_or(
        tracing_subscriber::filter::LevelFilter::TRACE,
        trace::max_level,
    );
    let _ = tracing_log::LogTracer::builder()
        .with_max_level(max.as_log())
        .init();
}

/// The resource every exported span carries: what the process knows of itself, then
/// `OTEL_RESOURCE_ATTRIBUTES`, then the service's own settings, each layer winning over
/// the one before (the builder keeps the last value of a repeated key).
fn resource(config: &Config) -> opentelemetry_sdk::Resource {
    let mut attributes = vec![
        KeyValue::new("service.instance.id", instance_id().to_owned()),
        KeyValue::new("process.pid", i64::from(std::process::id())),
    ];
    if let Some(host) = hostname::get().ok().and_then(|h| h.into_string().ok()) {
        attributes.push(KeyValue::new("host.name", host));
    }
    attributes.extend(
        config
            .service
            .resource_attributes
            .iter()
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
    );
    attributes.push(KeyValue::new("service.name", config.service.name.clone()));
    if let Some(version) = &config.service.version {
        attributes.push(KeyValue::new("service.version", version.clone()));
    }
    attributes.push(KeyValue::new(
        "deployment.environment.name",
        config.service.environment.clone(),
    ));
    opentelemetry_sdk::Resource::builder_empty()
        .with_attributes(attributes)
        .build()
}

/// This process's `service.instance.id`: a UUID v4 drawn once.
pub fn instance_id() -> &'static str {
    static ID: std::sync::LazyLock<String> = std::sync::LazyLock::new(trace::generate_id);
    &ID
}

/// The configuration from the environment, with the calling crate's name and version as
/// the defaults of `service.name` and `service.version` (and the Sentry release):
/// [`Config::from_env_for`]`(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))`.
///
/// ```
/// let config = teei_obs::config!().expect("a valid environment");
/// // This doctest is compiled as part of teei-obs, so the version is teei-obs's own.
/// assert_eq!(config.version(), Some(env!("CARGO_PKG_VERSION")));
/// ```
#[macro_export]
macro_rules! config {
    () => {
        $crate::Config::from_env_for(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
        )
    };
}

impl Obs {
    /// The service's name (`OTEL_SERVICE_NAME` or `Config::service_name`).
    pub fn service_name(&self) -> &str {
        &self.config.service.name
    }

    /// The configuration `init` ran with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Prometheus registry behind `/metrics`; register the service's own metrics here.
    pub fn registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    /// How many registry entries `init` found: one per macro per function, so a function
    /// that is both `#[counted]` and `#[traced]` counts twice.
    pub fn function_count(&self) -> usize {
        self.functions
    }

    /// Whether `init` installed the global `tracing` subscriber.
    pub fn subscriber_installed(&self) -> bool {
        self.subscriber_installed
    }

    /// The span layer alone, unfiltered, to compose into a `tracing_subscriber::Registry`
    /// with other layers (with [`Config::install_subscriber`]`(false)`); [`Obs::layers`]
    /// has it behind the traces filter, with the log and Sentry layers.
    pub fn otel_layer(&self) -> trace::OtelLayer {
        trace::OtelLayer::new(self.core.clone())
    }

    /// A subscriber like the one `init` installs (same filters, sampler, sinks and
    /// export), for a scope of your own:
    /// `tracing::subscriber::with_default(obs.subscriber(), || …)`.
    pub fn subscriber(&self) -> trace::TeeiSubscriber {
        make_subscriber(&self.core, &self.filters, &self.logs, &self.config.redactor)
    }

    /// The log-line writer as a layer, unfiltered: add your own filter, or take
    /// [`Obs::layers`], which has it behind `RUST_LOG`.
    pub fn log_layer(&self) -> log::LogLayer {
        log::LogLayer::new(self.logs.clone())
    }

    /// The Sentry capture as a layer, unfiltered (see [`Obs::log_layer`]).
    #[cfg(feature = "sentry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
    pub fn sentry_layer(&self) -> errors::SentryLayer {
        errors::SentryLayer::new(self.config.redactor.clone())
    }

    /// Every teei-obs sink as one layer for a `tracing_subscriber::Registry` of your own,
    /// each behind its filter: spans ([`Obs::otel_layer`]) behind the traces filter, log
    /// lines ([`Obs::log_layer`]) and Sentry ([`Obs::sentry_layer`]) behind `RUST_LOG`.
    /// The same behaviour as `init`'s subscriber, composed with whatever else you run
    /// (`fmt`, `console-subscriber`, a file appender); pass
    /// [`Config::install_subscriber`]`(false)` and install the registry yourself:
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let obs = teei_obs::init(teei_obs::Config::new("composed").install_subscriber(false))?;
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(obs.layers())
    ///     .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("both see this"));
    /// # Ok::<(), teei_obs::InitError>(())
    /// ```
    pub fn layers<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        compose_layers(&self.core, &self.filters, &self.logs, &self.config.redactor)
    }

    /// The routes to mount: `GET /metrics`, `/health`, `/health/liveness`,
    /// `/health/readiness`, `/health/startup`.
    pub fn router(&self) -> axum::Router {
        self.health.start();
        let router = self
            .exposition
            .clone()
            .router()
            .merge(health::health_router(self.health.clone()));
        #[cfg(feature = "console")]
        if let Some(console) = &self.console {
            return router.merge(console::service_router(
                console.clone(),
                self.health.clone(),
            ));
        }
        router
    }

    /// The embedded console, when it is on ([`Config::console_enabled`]).
    #[cfg(feature = "console")]
    #[cfg_attr(docsrs, doc(cfg(feature = "console")))]
    pub fn console(&self) -> Option<&console::Console> {
        self.console.as_ref()
    }

    /// Declares the routes the service's router serves, `(method, route template)`, so each
    /// `http_*` family has its zero-valued series from the start — dashboards and alerts see
    /// a route before its first request (`http_requests_total` with statuses 200 and 500).
    /// axum's `Router` does not list its routes, so the service names them.
    ///
    /// ```
    /// let obs = teei_obs::init(teei_obs::Config::new("profile").install_subscriber(false)).unwrap();
    /// obs.declare_routes([("GET", "/v1/profile/{id}"), ("PUT", "/v1/profile/{id}")]);
    /// let text = obs.render_metrics();
    /// assert!(text.contains(r#"http_request_duration_seconds_count{method="PUT",route="/v1/profile/{id}"} 0"#));
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/v1/profile/{id}",status="500"} 0"#));
    /// ```
    pub fn declare_routes<'a>(&self, routes: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (method, route) in routes {
            self.http_metrics.declare(method, route);
        }
    }

    /// `listener` for `axum::serve`, counting its connections in
    /// `active_connections{type="http"}` while they are open.
    pub fn listener<L: axum::serve::Listener>(&self, listener: L) -> http::CountedListener<L> {
        http::CountedListener::new(listener, self.standard_metrics.active_connections("http"))
    }

    /// The standard metric families: database queries, events, queues, errors.
    pub fn standard_metrics(&self) -> &metrics::StandardMetrics {
        &self.standard_metrics
    }

    /// The health manager: reports, shutdown state, start-up marker.
    pub fn health(&self) -> &Arc<health::HealthManager> {
        &self.health
    }

    /// Resolves when the process is asked to stop (SIGTERM or SIGINT), after flipping
    /// readiness to 503 and waiting the drain delay ([`Config::drain_delay`]) so load
    /// balancers stop sending traffic while liveness and the health routes keep answering.
    /// Hand it to `axum::serve(..).with_graceful_shutdown(..)`, then call
    /// [`Obs::shutdown`] to flush telemetry.
    pub fn shutdown_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let health = self.health.clone();
        let drain = self.config.health.drain_delay;
        async move {
            wait_for_signal().await;
            tracing::info!("stop signal received");
            health.set_shutting_down();
            tokio::time::sleep(drain).await;
        }
    }

    /// The middleware for the service's routes: trace context and correlation IDs in,
    /// a server span around the request, the correlation ID back in the response.
    pub fn layer(&self) -> http::TraceLayer {
        http::TraceLayer::for_service(
            &self.config.service.name,
            self.http_metrics.clone(),
            self.error_tracking_enabled(),
        )
    }

    /// The current exposition in the OpenMetrics text format, exemplars included, as `GET
    /// /metrics` serves it to `Accept: application/openmetrics-text` (Prometheus).
    pub fn render_openmetrics(&self) -> String {
        self.exposition.openmetrics()
    }

    /// The current exposition, as `GET /metrics` would serve it.
    pub fn render_metrics(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| format!("# cannot encode metrics: {error}\n"))
    }

    /// The latest finished spans, with the in-memory export (the default without a collector).
    pub fn recent_spans(&self) -> Vec<trace::SpanData> {
        self.pipeline.recent()
    }

    /// The latest log lines, with [`Config::capture_logs`] (empty otherwise).
    pub fn recent_logs(&self) -> Vec<String> {
        match &self.logs.sink {
            log::LogSink::Memory(lines) => lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect(),
            log::LogSink::Stderr => Vec::new(),
        }
    }

    /// Exports every span finished so far; waits at most the shutdown timeout.
    pub fn flush(&self) -> Result<(), trace::FlushError> {
        self.pipeline.flush(self.config.shutdown_timeout)
    }

    /// Exports what is queued and stops the export thread, within the shutdown timeout
    /// (default 5 s) even when the collector is unreachable. Blocking; safe on any runtime.
    pub fn shutdown(&self) -> Result<(), trace::FlushError> {
        let spans = self.pipeline.shutdown(self.config.shutdown_timeout);
        #[cfg(feature = "sentry")]
        if let Some(tracking) = &self.error_tracking {
            // Sentry's own bound (2 s): it keeps its own promise even when spans did not.
            let _ = tracking.flush(std::time::Duration::from_secs(2));
        }
        spans
    }

    /// Sends the queued Sentry events, waiting at most `timeout`; `true` when all went
    /// (always, without error tracking).
    pub fn flush_errors(&self, timeout: std::time::Duration) -> bool {
        #[cfg(feature = "sentry")]
        {
            self.error_tracking
                .as_ref()
                .is_none_or(|tracking| tracking.flush(timeout))
        }
        #[cfg(not(feature = "sentry"))]
        {
            let _ = timeout;
            true
        }
    }

    /// Whether `init` set up error tracking (a `SENTRY_DSN` with the `sentry` feature).
    pub fn error_tracking_enabled(&self) -> bool {
        #[cfg(feature = "sentry")]
        {
            self.error_tracking.is_some()
        }
        #[cfg(not(feature = "sentry"))]
        {
            false
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What generated code names. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use linkme;

    pub use crate::error_probe::{ErrorProbe, ViaAsRef, ViaAsRefShared, ViaError, ViaNothing};
    pub use crate::health::{CheckEntry, CheckFuture, IntoOutcome, Kind, Missing, State};
    pub use crate::metrics::function::{
        AnyOutcome, Call, Histogram, NO_TIMING, NoTiming, ResultOutcome, Timing,
    };
    pub use crate::metrics::slot::{ROWS, Slot};
    pub use crate::metrics::{FunctionMetrics, Objective};
    pub use crate::registry::{FunctionEntry, Instrumentation, TracedInfo};
    pub use crate::trace::reports;
    pub use crate::trace::{PanicMark, PanicMarked};
    pub use tracing;

    /// Every `#[counted]` function of the binary. Prefixed: linkme names the link section
    /// after the slice's identifier, and two slices of one name collide.
    #[linkme::distributed_slice]
    pub static TEEI_OBS_FUNCTIONS: [FunctionEntry];

    /// Every `#[health_check]` of the binary.
    #[linkme::distributed_slice]
    pub static TEEI_OBS_HEALTH_CHECKS: [CheckEntry];

    /// Boxes a check's future.
    pub fn check_future<F>(future: F) -> CheckFuture
    where
        F: std::future::Future<Output = crate::health::CheckOutcome> + Send + 'static,
    {
        Box::pin(future)
    }

    /// A value of `T` from the state, boxed into the check's future by generated code.
    pub fn state<T: Send + Sync + 'static>(state: &State) -> Result<std::sync::Arc<T>, Missing> {
        state.get::<T>()
    }
}
