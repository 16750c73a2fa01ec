//! [`Obs`], what [`init`](crate::init) returns: the service's running observability —
//! its router, tracing layers, metrics, health, and the shutdown sequence.

use std::sync::Arc;

#[cfg(feature = "console")]
use crate::console;
#[cfg(feature = "sentry")]
use crate::error_tracking;
use crate::init::{compose_layers, make_subscriber};
use crate::{Config, health, http, log, metrics, trace};

/// The running observability of a service, returned by [`init`](crate::init).
///
/// Cheap to clone; every clone shares the pipelines.
#[derive(Clone, Debug)]
pub struct Obs {
    pub(crate) config: Config,
    pub(crate) registry: prometheus::Registry,
    pub(crate) functions: usize,
    pub(crate) pipeline: Arc<trace::Pipeline>,
    pub(crate) core: trace::SpanRecorder,
    pub(crate) filters: trace::Filters,
    pub(crate) logs: log::LogOutput,
    pub(crate) subscriber_installed: bool,
    pub(crate) health: Arc<health::HealthManager>,
    #[cfg(feature = "sentry")]
    pub(crate) error_tracking: Option<Arc<error_tracking::ErrorTracking>>,
    pub(crate) http_metrics: Arc<http::HttpMetrics>,
    pub(crate) standard_metrics: metrics::StandardMetrics,
    pub(crate) exposition: Arc<http::Exposition>,
    #[cfg(feature = "console")]
    pub(crate) console: Option<console::Console>,
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
    pub fn registry_entry_count(&self) -> usize {
        self.functions
    }

    /// Whether `init` installed the global `tracing` subscriber.
    pub fn subscriber_installed(&self) -> bool {
        self.subscriber_installed
    }

    /// The span layer alone, unfiltered, to compose into a `tracing_subscriber::Registry`
    /// with other layers (with [`Config::install_subscriber`]`(false)`); [`Obs::layers`]
    /// has it behind the traces filter, with the log and Sentry layers.
    pub fn span_layer(&self) -> trace::SpanLayer {
        trace::SpanLayer::new(self.core.clone())
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
    pub fn sentry_layer(&self) -> error_tracking::SentryLayer {
        error_tracking::SentryLayer::new(self.config.redactor.clone())
    }

    /// Every teei-obs sink as one layer for a `tracing_subscriber::Registry` of your own,
    /// each behind its filter: spans ([`Obs::span_layer`]) behind the traces filter, log
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
    pub fn request_layer(&self) -> http::RequestLayer {
        http::RequestLayer::for_service(
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
