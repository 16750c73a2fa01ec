//! The HTTP metric families and the per-thread cache of one route's handles.

use std::sync::Arc;

use super::cells::Which;
use super::families::Families;
use super::series::{RouteSeries, Series};

/// The HTTP metric families of the TypeScript package, labelled so that their cardinality
/// is bounded whatever clients send: `route` is the matched route template (`unmatched`
/// for anything no route took), `method` one of the standard methods or `OTHER`.
#[derive(Debug)]
pub struct HttpMetrics {
    series: Series,
}

impl HttpMetrics {
    pub(crate) fn new(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let series = Series::default();
        registry.register(Box::new(Families::new(series.clone())?))?;
        Ok(HttpMetrics { series })
    }

    /// Zero-valued series of every `http_*` family for `method` and the route template
    /// `route`: `http_requests_total` with statuses 200 and 500, the duration and size
    /// histograms.
    pub(crate) fn declare(&self, method: &str, route: &str) {
        let method = method
            .parse::<axum::http::Method>()
            .map_or("OTHER", |m| method_label(&m).1);
        let series = self.series_of(method, route);
        for status in [200, 500] {
            series.status_slot(status);
        }
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
                route: route.to_owned(),
                series: self.series_of(method, route),
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
    route: String,
    pub(super) series: Arc<RouteSeries>,
}

impl RouteMetrics {
    /// Records one value of `which` in this thread's row; returns its bucket.
    #[inline]
    pub(super) fn observe(&self, which: Which, value: u64) -> usize {
        self.series.cells.observe(which, value)
    }

    /// Counts a response with `status` in `http_requests_total`.
    #[inline]
    pub(super) fn count(&self, status: &str, code: Option<u16>) {
        self.series.count(status, code);
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
        route.series.cells.add_in_flight(1);
        InFlight(route)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.series.cells.add_in_flight(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::super::cells::STATUSES;
    use super::*;

    fn text(registry: &prometheus::Registry) -> String {
        let mut body = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut body,
        )
        .unwrap();
        String::from_utf8(body).unwrap()
    }

    #[test]
    fn statuses_beyond_the_slots_and_errors_are_counted_too() {
        let registry = prometheus::Registry::new();
        let metrics = HttpMetrics::new(&registry).unwrap();
        assert!(
            text(&registry).contains("http_requests_in_flight 0"),
            "a gauge is there before any request"
        );
        metrics.declare("GET", "/declared");
        let series = metrics.series_of("GET", "/items");
        let codes: Vec<u16> = (200..200 + STATUSES as u16 + 3).collect();
        for (n, code) in codes.iter().enumerate() {
            for _ in 0..=n {
                series.count(&code.to_string(), Some(*code));
            }
        }
        series.count("error", None);
        series.cells.add_in_flight(1);
        let text = text(&registry);
        for (n, code) in codes.iter().enumerate() {
            let line = format!(
                "http_requests_total{{method=\"GET\",route=\"/items\",status=\"{code}\"}} {}",
                n + 1
            );
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/items",status="error"} 1"#)
        );
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/declared",status="200"} 0"#)
        );
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/declared",status="500"} 0"#)
        );
        assert!(text.contains("http_requests_in_flight 1"), "{text}");
    }
}
