//! The HTTP metric families and the per-thread cache of one route's handles.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

pub(super) use super::cells::DURATION_BOUNDS;
use super::cells::{RouteCells, Which};
use crate::metrics::exemplar::ExemplarCell;

/// The histograms of one `(method, route)` and a recent sampled request per duration
/// bucket (the `+Inf` one last), shared by every thread that serves the route.
#[derive(Debug, Default)]
pub(super) struct RouteSeries {
    pub(super) cells: RouteCells,
    pub(super) exemplars: [ExemplarCell; DURATION_BOUNDS.len() + 1],
}

/// Every route's series by `(method, route)`: locked when a thread first serves a route,
/// and at a scrape; written into without a lock.
type Series = Arc<Mutex<BTreeMap<(&'static str, String), Arc<RouteSeries>>>>;

/// The HTTP metric families of the TypeScript package, labelled so that their cardinality
/// is bounded whatever clients send: `route` is the matched route template (`unmatched`
/// for anything no route took), `method` one of the standard methods or `OTHER`.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: prometheus::IntCounterVec,
    in_flight: prometheus::IntGauge,
    series: Series,
}

impl HttpMetrics {
    pub(crate) fn new(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        use prometheus::Opts;
        let series = Series::default();
        let metrics = HttpMetrics {
            requests: prometheus::IntCounterVec::new(
                Opts::new(
                    crate::metrics::names::HTTP_REQUESTS_TOTAL,
                    "HTTP requests by method, route and status",
                ),
                &["method", "route", "status"],
            )?,
            in_flight: prometheus::IntGauge::new(
                crate::metrics::names::HTTP_REQUESTS_IN_FLIGHT,
                "HTTP requests being served",
            )?,
            series: series.clone(),
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(Histograms::new(series)?))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        Ok(metrics)
    }

    /// Zero-valued series of every `http_*` family for `method` and the route template
    /// `route`: `http_requests_total` with statuses 200 and 500, the duration and size
    /// histograms.
    pub(crate) fn declare(&self, method: &str, route: &str) {
        let method = method
            .parse::<axum::http::Method>()
            .map_or("OTHER", |m| method_label(&m).1);
        for status in ["200", "500"] {
            self.requests.with_label_values(&[method, route, status]);
        }
        self.series_of(method, route);
    }

    /// The shared series of `(method, route)`, made on first use.
    fn series_of(&self, method: &'static str, route: &str) -> Arc<RouteSeries> {
        self.series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method, route.to_owned()))
            .or_default()
            .clone()
    }

    /// The exemplar of `http_request_duration_seconds{method, route}` in bucket `bucket`.
    pub(crate) fn exemplar(
        &self,
        labels: &[prometheus::proto::LabelPair],
        bucket: usize,
    ) -> Option<crate::metrics::exemplar::Exemplar> {
        let label = |name| crate::metrics::exemplar::label(labels, name);
        let (method, route) = (label("method")?, label("route")?);
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let (_, route) = series
            .iter()
            .find(|((m, r), _)| *m == method && r == route)?;
        route.exemplars.get(bucket)?.load()
    }

    /// The handles of one `(method, route)`, from this thread's cache: one lookup per
    /// request instead of one per family, and no lock shared with other threads.
    pub(super) fn route(
        self: &std::sync::Arc<Self>,
        method: (usize, &'static str),
        route: &str,
    ) -> std::sync::Arc<RouteMetrics> {
        use std::cell::RefCell;
        type Last = (
            std::sync::Weak<HttpMetrics>,
            usize,
            std::sync::Arc<RouteMetrics>,
        );
        thread_local! {
            // The route this thread served last: a service under load mostly serves the
            // same few, so a compare of the route text often answers before a hash. The
            // `Weak` keeps the owner's address from being reused by another.
            static LAST: RefCell<Option<Last>> = const { RefCell::new(None) };
        }
        let last = LAST.with(|last| {
            last.borrow()
                .as_ref()
                .filter(|(owner, index, handles)| {
                    std::ptr::eq(owner.as_ptr(), std::sync::Arc::as_ptr(self))
                        && *index == method.0
                        && handles.route == route
                })
                .map(|(_, _, handles)| handles.clone())
        });
        if let Some(handles) = last {
            return handles;
        }
        let handles = self.route_slow(method, route);
        LAST.with(|last| {
            *last.borrow_mut() = Some((std::sync::Arc::downgrade(self), method.0, handles.clone()));
        });
        handles
    }

    /// [`route`](Self::route) past its last-route check: the thread's table of routes.
    fn route_slow(
        self: &std::sync::Arc<Self>,
        method: (usize, &'static str),
        route: &str,
    ) -> std::sync::Arc<RouteMetrics> {
        use std::cell::RefCell;
        use std::collections::HashMap;
        type Routes = HashMap<
            Box<str>,
            [Option<std::sync::Arc<RouteMetrics>>; METHODS],
            crate::hash::FastBuild,
        >;
        thread_local! {
            // Per `HttpMetrics` (a process may run several services in tests): its routes.
            static CACHE: RefCell<Vec<(std::sync::Weak<HttpMetrics>, Routes)>> =
                const { RefCell::new(Vec::new()) };
        }
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            let position = match cache
                .iter()
                .position(|(owner, _)| std::ptr::eq(owner.as_ptr(), std::sync::Arc::as_ptr(self)))
            {
                Some(position) => position,
                None => {
                    // A new owner: forget the routes of those that are gone (not on every
                    // request — this is the request path).
                    cache.retain(|(owner, _)| owner.strong_count() > 0);
                    cache.push((std::sync::Arc::downgrade(self), HashMap::default()));
                    cache.len() - 1
                }
            };
            let routes = &mut cache[position].1;
            if let Some(Some(handles)) = routes.get(route).map(|methods| &methods[method.0]) {
                return handles.clone();
            }
            let (index, method) = method;
            let handles = std::sync::Arc::new(RouteMetrics {
                requests: self.requests.clone(),
                in_flight: self.in_flight.clone(),
                method,
                route: route.to_owned(),
                series: self.series_of(method, route),
                statuses: std::array::from_fn(|_| std::sync::OnceLock::new()),
            });
            routes.entry(route.into()).or_default()[index] = Some(handles.clone());
            handles
        })
    }
}

/// The series of one `(method, route)`, as a thread's cache holds them.
#[derive(Debug)]
pub(super) struct RouteMetrics {
    // Not the `HttpMetrics` itself: the thread caches must not keep it alive.
    requests: prometheus::IntCounterVec,
    in_flight: prometheus::IntGauge,
    method: &'static str,
    route: String,
    pub(super) series: Arc<RouteSeries>,
    /// `http_requests_total` per status 100..=599, created on first use.
    statuses: [std::sync::OnceLock<prometheus::IntCounter>; 500],
}

impl RouteMetrics {
    /// Records one value of `which` in this thread's row; returns its bucket.
    #[inline]
    pub(super) fn observe(&self, which: Which, value: u64) -> usize {
        self.series.cells.observe(which, value)
    }

    pub(super) fn count(&self, status: &str, code: Option<u16>) {
        let slot = code
            .and_then(|code| code.checked_sub(100))
            .and_then(|index| self.statuses.get(usize::from(index)));
        let labels = [self.method, self.route.as_str(), status];
        match slot {
            Some(slot) => slot
                .get_or_init(|| self.requests.with_label_values(&labels))
                .inc(),
            None => self.requests.with_label_values(&labels).inc(),
        }
    }
}

/// How many `method` label values there are.
const METHODS: usize = 10;

/// The `method` label — a standard method, or `OTHER` — and its index below [`METHODS`].
pub(super) fn method_label(method: &axum::http::Method) -> (usize, &'static str) {
    use axum::http::Method;
    match *method {
        Method::GET => (0, "GET"),
        Method::POST => (1, "POST"),
        Method::PUT => (2, "PUT"),
        Method::DELETE => (3, "DELETE"),
        Method::PATCH => (4, "PATCH"),
        Method::HEAD => (5, "HEAD"),
        Method::OPTIONS => (6, "OPTIONS"),
        Method::CONNECT => (7, "CONNECT"),
        Method::TRACE => (8, "TRACE"),
        _ => (9, "OTHER"),
    }
}

/// The size a header says a body has.
pub(super) fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()
}

/// Counts a request in `http_requests_in_flight` until dropped: a request whose client
/// went away is not left counted.
#[derive(Debug)]
pub(super) struct InFlight(pub(super) std::sync::Arc<RouteMetrics>);

impl InFlight {
    pub(super) fn new(route: std::sync::Arc<RouteMetrics>) -> Self {
        route.in_flight.inc();
        InFlight(route)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

/// The three HTTP histograms of every route, read from their per-thread rows at a scrape.
#[derive(Debug)]
struct Histograms {
    series: Series,
    descs: [Desc; 3],
}

impl Histograms {
    fn new(series: Series) -> prometheus::Result<Self> {
        let desc = |name: &str, help: &str| {
            Desc::new(
                name.to_owned(),
                help.to_owned(),
                vec!["method".to_owned(), "route".to_owned()],
                Default::default(),
            )
        };
        Ok(Histograms {
            series,
            descs: [
                desc(
                    crate::metrics::names::HTTP_REQUEST_DURATION_SECONDS,
                    "HTTP request duration",
                )?,
                desc(
                    crate::metrics::names::HTTP_REQUEST_SIZE_BYTES,
                    "HTTP request body size",
                )?,
                desc(
                    crate::metrics::names::HTTP_RESPONSE_SIZE_BYTES,
                    "HTTP response body size",
                )?,
            ],
        })
    }
}

impl Collector for Histograms {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        [Which::Duration, Which::RequestSize, Which::ResponseSize]
            .into_iter()
            .zip(&self.descs)
            .map(|(which, desc)| {
                let mut family = MetricFamily::default();
                family.set_name(desc.fq_name.clone());
                family.set_help(desc.help.clone());
                family.set_field_type(MetricType::HISTOGRAM);
                for ((method, route), route_series) in series.iter() {
                    family
                        .mut_metric()
                        .push(histogram(method, route, which, &route_series.cells));
                }
                family
            })
            .filter(|family| !family.get_metric().is_empty())
            .collect()
    }
}

/// One route's histogram of `which` as the exposition reads it.
fn histogram(method: &str, route: &str, which: Which, cells: &RouteCells) -> proto::Metric {
    let snapshot = cells.snapshot(which);
    let mut histogram = proto::Histogram::default();
    histogram.set_sample_count(snapshot.count);
    histogram.set_sample_sum(snapshot.sum);
    histogram.set_bucket(
        which
            .bounds()
            .iter()
            .zip(snapshot.cumulative)
            .map(|(bound, count)| {
                let mut bucket = proto::Bucket::default();
                bucket.set_upper_bound(*bound);
                bucket.set_cumulative_count(count);
                bucket
            })
            .collect(),
    );
    let pair = |name: &str, value: &str| {
        let mut pair = proto::LabelPair::default();
        pair.set_name(name.to_owned());
        pair.set_value(value.to_owned());
        pair
    };
    let mut metric = proto::Metric::default();
    metric.set_label(vec![pair("method", method), pair("route", route)]);
    metric.set_histogram(histogram);
    metric
}
