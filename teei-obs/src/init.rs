//! [`init`]: each subsystem installed from its settings, in order.

use std::sync::Arc;

use opentelemetry::KeyValue;

use crate::config::TraceExport;
#[cfg(feature = "console")]
use crate::console;
#[cfg(feature = "sentry")]
use crate::error_tracking;
use crate::{Config, InitError, Obs, health, http, log, metrics, redact, registry, trace};

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
    // Started once the subscriber is in place: a check that finishes at once still logs
    // its first "passing"/"failing" line.
    health.start();
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
) -> Result<Option<Arc<error_tracking::ErrorTracking>>, InitError> {
    let Some(settings) = &config.error_tracking.sentry else {
        return Ok(None);
    };
    let service = error_tracking::ServiceInfo {
        name: config.service.name.clone(),
        release: config.service.version.clone(),
        environment: config.service.environment.clone(),
        redactor: config.redactor.clone(),
    };
    Ok(Some(Arc::new(error_tracking::init(
        settings, &service, registry,
    )?)))
}

/// The health manager over the registered checks (started by `init` once its subscriber
/// is installed).
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
        health::Messages {
            redactor: config.redactor.clone(),
            details: config.health.details,
        },
        registry,
    )?);
    Ok(health)
}

/// The span recorder, and OpenTelemetry's global tracer provider on the same pipeline.
fn install_tracing(config: &Config, pipeline: &Arc<trace::Pipeline>) -> trace::SpanRecorder {
    let core = trace::SpanRecorder::new(
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
    core: &trace::SpanRecorder,
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
pub(crate) fn make_subscriber(
    core: &trace::SpanRecorder,
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
pub(crate) fn compose_layers<S>(
    core: &trace::SpanRecorder,
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
        trace::SpanLayer::new(core.clone())
            .with_filter(filters.traces.clone())
            .boxed(),
        log::LogLayer::new(logs.clone())
            .with_filter(filters.log.layer_filter())
            .boxed(),
    ];
    #[cfg(feature = "sentry")]
    layers.push(
        error_tracking::SentryLayer::new(redactor.clone())
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
