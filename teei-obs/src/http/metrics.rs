//! The HTTP metric families and the per-thread cache of one route's handles.

/// The upper bounds of `http_request_duration_seconds`.
pub(super) const DURATION_BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A recent sampled request per duration bucket (the `+Inf` one last) of one route.
type RouteExemplars = std::sync::Arc<[crate::metrics::exemplar::ExemplarCell; 12]>;

/// The HTTP metric families of the TypeScript package, labelled so that their cardinality
/// is bounded whatever clients send: `route` is the matched route template (`unmatched`
/// for anything no route took), `method` one of the standard methods or `OTHER`.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: prometheus::IntCounterVec,
    duration: prometheus::HistogramVec,
    request_size: prometheus::HistogramVec,
    response_size: prometheus::HistogramVec,
    in_flight: prometheus::IntGauge,
    /// Exemplars of `http_request_duration_seconds` by `(method, route)`: locked when a
    /// thread first serves a route, and at a scrape; stored into without a lock.
    exemplars: std::sync::Mutex<std::collections::HashMap<(&'static str, String), RouteExemplars>>,
}

impl HttpMetrics {
    pub(crate) fn new(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        use prometheus::{HistogramOpts, Opts};
        let sizes = prometheus::exponential_buckets(64.0, 4.0, 9)?;
        let metrics = HttpMetrics {
            requests: prometheus::IntCounterVec::new(
                Opts::new(
                    crate::metrics::names::HTTP_REQUESTS_TOTAL,
                    "HTTP requests by method, route and status",
                ),
                &["method", "route", "status"],
            )?,
            duration: prometheus::HistogramVec::new(
                HistogramOpts::new(
                    crate::metrics::names::HTTP_REQUEST_DURATION_SECONDS,
                    "HTTP request duration",
                )
                .buckets(DURATION_BOUNDS.to_vec()),
                &["method", "route"],
            )?,
            request_size: prometheus::HistogramVec::new(
                HistogramOpts::new(
                    crate::metrics::names::HTTP_REQUEST_SIZE_BYTES,
                    "HTTP request body size",
                )
                .buckets(sizes.clone()),
                &["method", "route"],
            )?,
            response_size: prometheus::HistogramVec::new(
                HistogramOpts::new(
                    crate::metrics::names::HTTP_RESPONSE_SIZE_BYTES,
                    "HTTP response body size",
                )
                .buckets(sizes),
                &["method", "route"],
            )?,
            in_flight: prometheus::IntGauge::new(
                crate::metrics::names::HTTP_REQUESTS_IN_FLIGHT,
                "HTTP requests being served",
            )?,
            exemplars: Default::default(),
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        registry.register(Box::new(metrics.request_size.clone()))?;
        registry.register(Box::new(metrics.response_size.clone()))?;
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
        self.duration.with_label_values(&[method, route]);
        self.request_size.with_label_values(&[method, route]);
        self.response_size.with_label_values(&[method, route]);
    }

    /// The exemplar of `http_request_duration_seconds{method, route}` in bucket `bucket`.
    pub(crate) fn exemplar(
        &self,
        labels: &[prometheus::proto::LabelPair],
        bucket: usize,
    ) -> Option<crate::metrics::exemplar::Exemplar> {
        let label = |name| crate::metrics::exemplar::label(labels, name);
        let (method, route) = (label("method")?, label("route")?);
        let table = self.exemplars.lock().unwrap_or_else(|e| e.into_inner());
        let (_, cells) = table
            .iter()
            .find(|((m, r), _)| *m == method && r == route)?;
        cells.get(bucket)?.load()
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
                duration: self.duration.with_label_values(&[method, route]),
                request_size: self.request_size.with_label_values(&[method, route]),
                response_size: self.response_size.with_label_values(&[method, route]),
                statuses: std::array::from_fn(|_| std::sync::OnceLock::new()),
                exemplars: self
                    .exemplars
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry((method, route.to_owned()))
                    .or_insert_with(|| {
                        std::sync::Arc::new(std::array::from_fn(|_| Default::default()))
                    })
                    .clone(),
            });
            routes.entry(route.into()).or_default()[index] = Some(handles.clone());
            handles
        })
    }
}

/// The series of one `(method, route)`.
#[derive(Debug)]
pub(super) struct RouteMetrics {
    // Not the `HttpMetrics` itself: the thread caches must not keep it alive.
    requests: prometheus::IntCounterVec,
    in_flight: prometheus::IntGauge,
    method: &'static str,
    route: String,
    pub(super) duration: prometheus::Histogram,
    pub(super) request_size: prometheus::Histogram,
    pub(super) response_size: prometheus::Histogram,
    /// `http_requests_total` per status 100..=599, created on first use.
    statuses: [std::sync::OnceLock<prometheus::IntCounter>; 500],
    pub(super) exemplars: RouteExemplars,
}

impl RouteMetrics {
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
pub(super) fn content_length(headers: &axum::http::HeaderMap) -> Option<f64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()
        .map(|n| n as f64)
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
