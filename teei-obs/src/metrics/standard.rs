//! The TypeScript package's standard metric families beyond HTTP, one call each, plus the
//! process and async-runtime metrics.
//!
//! ```
//! let obs = teei_obs::init(teei_obs::Config::new("profile").install_subscriber(false)).unwrap();
//! let metrics = obs.standard_metrics();
//! metrics.db_query("SELECT", "profiles", true, std::time::Duration::from_millis(3));
//! metrics.event_processed("user.created", true, std::time::Duration::from_millis(1));
//! metrics.error("validation", "profile-api");
//! let text = obs.render_metrics();
//! assert!(text.contains(r#"db_queries_total{operation="SELECT",status="success",table="profiles"} 1"#));
//! ```

use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

use super::exemplar::{Exemplar, ExemplarCell};

/// The standard families; from [`Obs::standard_metrics`](crate::Obs::standard_metrics).
#[derive(Clone, Debug)]
pub struct StandardMetrics {
    db_queries: IntCounterVec,
    db_duration: HistogramVec,
    events_processed: IntCounterVec,
    events_published: IntCounterVec,
    event_duration: HistogramVec,
    queue_size: IntGaugeVec,
    errors: IntCounterVec,
    active_connections: IntGaugeVec,
    exemplars: std::sync::Arc<std::sync::Mutex<Exemplars>>,
}

/// Exemplars of the two duration families, by family and label values: locked only by a
/// call in a sampled span, and at a scrape.
type Exemplars = std::collections::HashMap<(&'static str, Vec<String>), Box<[ExemplarCell]>>;

/// The upper bounds of `db_query_duration_seconds` and `event_processing_duration_seconds`.
const BOUNDS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const DB_DURATION: &str = crate::metrics::names::DB_QUERY_DURATION_SECONDS;
const EVENT_DURATION: &str = crate::metrics::names::EVENT_PROCESSING_DURATION_SECONDS;

fn status(ok: bool) -> &'static str {
    if ok { "success" } else { "error" }
}

impl StandardMetrics {
    pub(crate) fn new(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let buckets = BOUNDS.to_vec();
        let metrics = StandardMetrics {
            db_queries: IntCounterVec::new(
                Opts::new(
                    crate::metrics::names::DB_QUERIES_TOTAL,
                    "Database queries by operation, table and status",
                ),
                &["operation", "table", "status"],
            )?,
            db_duration: HistogramVec::new(
                HistogramOpts::new(DB_DURATION, "Database query duration").buckets(buckets.clone()),
                &["operation", "table"],
            )?,
            events_processed: IntCounterVec::new(
                Opts::new(
                    crate::metrics::names::EVENTS_PROCESSED_TOTAL,
                    "Events processed by type and status",
                ),
                &["type", "status"],
            )?,
            events_published: IntCounterVec::new(
                Opts::new(
                    crate::metrics::names::EVENTS_PUBLISHED_TOTAL,
                    "Events published by type",
                ),
                &["type"],
            )?,
            event_duration: HistogramVec::new(
                HistogramOpts::new(EVENT_DURATION, "Event processing duration").buckets(buckets),
                &["type"],
            )?,
            queue_size: IntGaugeVec::new(
                Opts::new(
                    crate::metrics::names::QUEUE_SIZE,
                    "Messages waiting per queue",
                ),
                &["queue"],
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    crate::metrics::names::ERRORS_TOTAL,
                    "Errors by type and component",
                ),
                &["type", "component"],
            )?,
            active_connections: IntGaugeVec::new(
                Opts::new(
                    crate::metrics::names::ACTIVE_CONNECTIONS,
                    "Connections open, by type (http: accepted by the server; nats: to the bus)",
                ),
                &["type"],
            )?,
            exemplars: Default::default(),
        };
        registry.register(Box::new(metrics.db_queries.clone()))?;
        registry.register(Box::new(metrics.db_duration.clone()))?;
        registry.register(Box::new(metrics.events_processed.clone()))?;
        registry.register(Box::new(metrics.events_published.clone()))?;
        registry.register(Box::new(metrics.event_duration.clone()))?;
        registry.register(Box::new(metrics.queue_size.clone()))?;
        registry.register(Box::new(metrics.errors.clone()))?;
        registry.register(Box::new(metrics.active_connections.clone()))?;
        // The server's connections are there from the start, at 0.
        metrics.active_connections.with_label_values(&["http"]);
        Ok(metrics)
    }

    /// A database query ran: `db_queries_total` and `db_query_duration_seconds`.
    pub fn db_query(&self, operation: &str, table: &str, ok: bool, took: Duration) {
        self.db_queries
            .with_label_values(&[operation, table, status(ok)])
            .inc();
        self.db_duration
            .with_label_values(&[operation, table])
            .observe(took.as_secs_f64());
        self.exemplar_for(DB_DURATION, &[operation, table], took);
    }

    /// An event was handled: `events_processed_total` and
    /// `event_processing_duration_seconds`.
    pub fn event_processed(&self, event_type: &str, ok: bool, took: Duration) {
        self.events_processed
            .with_label_values(&[event_type, status(ok)])
            .inc();
        self.event_duration
            .with_label_values(&[event_type])
            .observe(took.as_secs_f64());
        self.exemplar_for(EVENT_DURATION, &[event_type], took);
    }

    /// Keeps `took` as the exemplar of its bucket when the call is in a sampled span.
    fn exemplar_for(&self, family: &'static str, labels: &[&str], took: Duration) {
        let Some(ids) = super::exemplar::sampled() else {
            return;
        };
        let seconds = took.as_secs_f64();
        let mut table = self.exemplars.lock().unwrap_or_else(|e| e.into_inner());
        let cells = table
            .entry((family, labels.iter().map(|l| (*l).to_owned()).collect()))
            .or_insert_with(|| (0..=BOUNDS.len()).map(|_| ExemplarCell::new()).collect());
        cells[super::exemplar::bucket_of(&BOUNDS, seconds)].store(ids, seconds);
    }

    /// The exemplar of bucket `bucket` of `family`'s series with `labels`.
    pub(crate) fn exemplar(
        &self,
        family: &str,
        labels: &[prometheus::proto::LabelPair],
        bucket: usize,
    ) -> Option<Exemplar> {
        let (family, names): (&'static str, &[&str]) = match family {
            DB_DURATION => (DB_DURATION, &["operation", "table"]),
            EVENT_DURATION => (EVENT_DURATION, &["type"]),
            _ => return None,
        };
        let values = names
            .iter()
            .map(|name| super::exemplar::label(labels, name).map(str::to_owned))
            .collect::<Option<Vec<String>>>()?;
        let table = self.exemplars.lock().unwrap_or_else(|e| e.into_inner());
        table.get(&(family, values))?.get(bucket)?.load()
    }

    /// The gauge of open connections of `kind` (`http`, `nats`, `postgres`…):
    /// `active_connections{type}`. [`Obs::listener`](crate::Obs::listener) keeps `http`.
    pub fn active_connections(&self, kind: &str) -> prometheus::IntGauge {
        self.active_connections.with_label_values(&[kind])
    }

    /// An event was published: `events_published_total`.
    pub fn event_published(&self, event_type: &str) {
        self.events_published.with_label_values(&[event_type]).inc();
    }

    /// How many messages wait in `queue`: `queue_size`.
    pub fn queue_size(&self, queue: &str, size: i64) {
        self.queue_size.with_label_values(&[queue]).set(size);
    }

    /// An error happened: `errors_total`.
    pub fn error(&self, error_type: &str, component: &str) {
        self.errors
            .with_label_values(&[error_type, component])
            .inc();
    }
}

/// The async runtime's gauges, read at scrape time from the runtime that serves `/metrics`.
#[derive(Debug)]
pub(crate) struct RuntimeCollector {
    descs: Vec<Desc>,
    workers: prometheus::IntGauge,
    alive_tasks: prometheus::IntGauge,
    global_queue: prometheus::IntGauge,
}

impl RuntimeCollector {
    pub(crate) fn new() -> prometheus::Result<Self> {
        let workers = prometheus::IntGauge::new(
            crate::metrics::names::TOKIO_WORKERS,
            "Worker threads of the Tokio runtime",
        )?;
        let alive_tasks = prometheus::IntGauge::new(
            crate::metrics::names::TOKIO_ALIVE_TASKS,
            "Tasks alive in the Tokio runtime",
        )?;
        let global_queue = prometheus::IntGauge::new(
            crate::metrics::names::TOKIO_GLOBAL_QUEUE_DEPTH,
            "Tasks waiting in the Tokio runtime's global queue",
        )?;
        let descs = [&workers, &alive_tasks, &global_queue]
            .iter()
            .flat_map(|g| g.desc().into_iter().cloned())
            .collect();
        Ok(RuntimeCollector {
            descs,
            workers,
            alive_tasks,
            global_queue,
        })
    }
}

impl Collector for RuntimeCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Vec::new();
        };
        let metrics = handle.metrics();
        self.workers.set(metrics.num_workers() as i64);
        self.alive_tasks.set(metrics.num_alive_tasks() as i64);
        self.global_queue.set(metrics.global_queue_depth() as i64);
        [&self.workers, &self.alive_tasks, &self.global_queue]
            .iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}

/// Measures how late a timer fires on the runtime: the Rust counterpart of event-loop lag.
pub(crate) fn start_scheduling_delay_probe(gauge: prometheus::Gauge) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        // Once a second: often enough for a gauge scraped every 15 s, and an idle service
        // wakes for it once a second rather than ten times.
        let period = Duration::from_secs(1);
        loop {
            let asked = tokio::time::Instant::now();
            tokio::time::sleep(period).await;
            let late = asked.elapsed().saturating_sub(period);
            gauge.set(late.as_secs_f64());
        }
    });
}
