//! The HTTP side: routes a service mounts on its axum router.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{Encoder, TextEncoder};

/// A router with `GET /metrics` (and `HEAD`) serving `registry` in the Prometheus text
/// format.
pub fn metrics_router(registry: prometheus::Registry) -> Router {
    Router::new().route("/metrics", get(move || render(registry.clone())))
}

async fn render(registry: prometheus::Registry) -> Response {
    let encoder = TextEncoder::new();
    let mut body = Vec::with_capacity(16 * 1024);
    match encoder.encode(&registry.gather(), &mut body) {
        Ok(()) => ([(header::CONTENT_TYPE, encoder.format_type())], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot encode metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode metrics: {error}\n"),
            )
                .into_response()
        }
    }
}

/// A listener for `axum::serve` that counts the connections it accepted and that are
/// still open in `active_connections{type="http"}` (from [`Obs::listener`](crate::Obs::listener)),
/// over any axum [`Listener`](axum::serve::Listener) — its accept-error handling included.
///
/// ```no_run
/// # async fn run(obs: teei_obs::Obs, app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(obs.listener(listener), app).await
/// # }
/// ```
#[derive(Debug)]
pub struct CountedListener<L> {
    inner: L,
    open: prometheus::IntGauge,
}

impl<L> CountedListener<L> {
    pub(crate) fn new(inner: L, open: prometheus::IntGauge) -> Self {
        CountedListener { inner, open }
    }
}

impl<L: axum::serve::Listener> axum::serve::Listener for CountedListener<L> {
    type Io = CountedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        self.open.inc();
        (
            CountedIo {
                io,
                open: self.open.clone(),
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection, counted in `active_connections` until it is dropped.
#[derive(Debug)]
pub struct CountedIo<T> {
    io: T,
    open: prometheus::IntGauge,
}

impl<T> Drop for CountedIo<T> {
    fn drop(&mut self) {
        self.open.dec();
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for CountedIo<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for CountedIo<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

pin_project_lite::pin_project! {
    /// A body whose size no header says (chunked, streamed): its bytes are counted as they
    /// flow, and observed in `histogram` at its end — or, cut short, when it is dropped.
    struct CountedBody<B> {
        #[pin]
        inner: B,
        bytes: u64,
        histogram: Option<prometheus::Histogram>,
    }

    impl<B> PinnedDrop for CountedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(histogram) = this.histogram.take() {
                histogram.observe(*this.bytes as f64);
            }
        }
    }
}

impl<B> CountedBody<B> {
    fn new(inner: B, histogram: prometheus::Histogram) -> Self {
        CountedBody {
            inner,
            bytes: 0,
            histogram: Some(histogram),
        }
    }
}

impl<B: axum::body::HttpBody> axum::body::HttpBody for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use bytes::Buf as _;
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes += data.remaining() as u64;
                }
            }
            std::task::Poll::Ready(None) => {
                if let Some(histogram) = this.histogram.take() {
                    histogram.observe(*this.bytes as f64);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// `body` as axum's body type: counted into `histogram` as it flows when no length is known
/// for it (and it is not empty); as it is otherwise (no allocation for axum's own bodies).
fn counted_body<B>(
    body: B,
    known: bool,
    histogram: Option<&prometheus::Histogram>,
) -> axum::body::Body
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    match histogram {
        Some(histogram) if !known && !body.is_end_stream() => {
            axum::body::Body::new(CountedBody::new(body, histogram.clone()))
        }
        _ => axum::body::Body::new(body),
    }
}

/// What `/metrics` serves: the registry in the classic text format, or in OpenMetrics with
/// the exemplars of the function and HTTP duration histograms and call counters.
#[derive(Debug)]
pub(crate) struct Exposition {
    pub(crate) registry: prometheus::Registry,
    pub(crate) functions: crate::metrics::FunctionCollector,
    pub(crate) http: std::sync::Arc<HttpMetrics>,
    pub(crate) standard: crate::metrics::StandardMetrics,
}

impl Exposition {
    /// The exposition in OpenMetrics, exemplars included.
    pub(crate) fn openmetrics(&self) -> String {
        crate::metrics::openmetrics::encode(&self.registry.gather(), &|family, labels, bucket| {
            match (family, bucket) {
                ("http_request_duration_seconds", Some(bucket)) => {
                    self.http.exemplar(labels, bucket)
                }
                (
                    "db_query_duration_seconds" | "event_processing_duration_seconds",
                    Some(bucket),
                ) => self.standard.exemplar(family, labels, bucket),
                _ => self.functions.exemplar(family, labels, bucket),
            }
        })
    }

    /// The router of `GET /metrics`, negotiating the format by `Accept`.
    pub(crate) fn router(self: std::sync::Arc<Self>) -> Router {
        Router::new().route(
            "/metrics",
            get(move |headers: axum::http::HeaderMap| {
                let exposition = self.clone();
                async move {
                    let accept = headers
                        .get(header::ACCEPT)
                        .and_then(|value| value.to_str().ok());
                    if crate::metrics::openmetrics::wants_openmetrics(accept) {
                        (
                            [(
                                header::CONTENT_TYPE,
                                crate::metrics::openmetrics::CONTENT_TYPE,
                            )],
                            exposition.openmetrics(),
                        )
                            .into_response()
                    } else {
                        render(exposition.registry.clone()).await
                    }
                }
            }),
        )
    }
}

/// Middleware for a service's routes (from [`Obs::layer`](crate::Obs::layer)): reads the
/// W3C trace context, baggage and correlation IDs of each request, runs the request in a
/// server span that continues the caller's trace, makes the [`RequestContext`] current for
/// the request's task, records the HTTP metric families, and returns `x-correlation-id` in
/// the response.
///
/// [`RequestContext`]: crate::trace::RequestContext
#[derive(Clone, Debug, Default)]
pub struct TraceLayer {
    // One reference count per clone: axum clones the service for every request.
    shared: std::sync::Arc<Shared>,
}

#[derive(Debug, Default)]
// Service name and flag are read for Sentry's per-request hub only.
#[cfg_attr(not(feature = "sentry"), allow(dead_code))]
struct Shared {
    service: String,
    /// Whether `init` set up error tracking: only then is a Sentry hub made per request.
    sentry: bool,
    metrics: Option<std::sync::Arc<HttpMetrics>>,
}

impl TraceLayer {
    /// The layer, with no service name, no metrics and the default redaction policy.
    pub fn new() -> Self {
        TraceLayer::default()
    }

    pub(crate) fn for_service(
        service: &str,
        metrics: std::sync::Arc<HttpMetrics>,
        sentry: bool,
    ) -> Self {
        TraceLayer {
            shared: std::sync::Arc::new(Shared {
                service: service.to_owned(),
                sentry,
                metrics: Some(metrics),
            }),
        }
    }
}

/// The upper bounds of `http_request_duration_seconds`.
const DURATION_BOUNDS: [f64; 11] = [
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
                    "http_requests_total",
                    "HTTP requests by method, route and status",
                ),
                &["method", "route", "status"],
            )?,
            duration: prometheus::HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "HTTP request duration")
                    .buckets(DURATION_BOUNDS.to_vec()),
                &["method", "route"],
            )?,
            request_size: prometheus::HistogramVec::new(
                HistogramOpts::new("http_request_size_bytes", "HTTP request body size")
                    .buckets(sizes.clone()),
                &["method", "route"],
            )?,
            response_size: prometheus::HistogramVec::new(
                HistogramOpts::new("http_response_size_bytes", "HTTP response body size")
                    .buckets(sizes),
                &["method", "route"],
            )?,
            in_flight: prometheus::IntGauge::new(
                "http_requests_in_flight",
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
    fn route(
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
struct RouteMetrics {
    // Not the `HttpMetrics` itself: the thread caches must not keep it alive.
    requests: prometheus::IntCounterVec,
    in_flight: prometheus::IntGauge,
    method: &'static str,
    route: String,
    duration: prometheus::Histogram,
    request_size: prometheus::Histogram,
    response_size: prometheus::Histogram,
    /// `http_requests_total` per status 100..=599, created on first use.
    statuses: [std::sync::OnceLock<prometheus::IntCounter>; 500],
    exemplars: RouteExemplars,
}

impl RouteMetrics {
    fn count(&self, status: &str, code: Option<u16>) {
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
fn method_label(method: &axum::http::Method) -> (usize, &'static str) {
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
fn content_length(headers: &axum::http::HeaderMap) -> Option<f64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()
        .map(|n| n as f64)
}

impl<S> tower_layer::Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        #[cfg(feature = "sentry")]
        let inner = if self.shared.sentry {
            // `sentry-tower` attaches the request's data to the request's hub.
            Inner::Sentry(tower_layer::Layer::layer(
                &sentry_tower::SentryHttpLayer::new(),
                inner,
            ))
        } else {
            Inner::Plain(inner)
        };
        TraceService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`TraceLayer`] wraps around a service.
#[derive(Clone, Debug)]
pub struct TraceService<S> {
    inner: Inner<S>,
    layer: TraceLayer,
}

/// The wrapped service: with error tracking on, behind `sentry-tower`'s request data.
#[cfg(not(feature = "sentry"))]
type Inner<S> = S;

#[cfg(feature = "sentry")]
#[derive(Clone)]
enum Inner<S> {
    Plain(S),
    Sentry(sentry_tower::SentryHttpService<S>),
}

#[cfg(feature = "sentry")]
impl<S> std::fmt::Debug for Inner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Inner::Plain(_) => "Plain",
            Inner::Sentry(_) => "SentryHttpService",
        })
    }
}

#[cfg(not(feature = "sentry"))]
type InnerFuture<F> = F;

#[cfg(feature = "sentry")]
pin_project_lite::pin_project! {
    #[project = InnerProjection]
    enum InnerFuture<F> {
        Plain { #[pin] future: F },
        Sentry { #[pin] future: sentry_tower::SentryHttpFuture<F> },
    }
}

#[cfg(feature = "sentry")]
impl<F> std::fmt::Debug for InnerFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InnerFuture")
    }
}

#[cfg(feature = "sentry")]
impl<F, R, E> std::future::Future for InnerFuture<F>
where
    F: std::future::Future<Output = Result<axum::http::Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            InnerProjection::Plain { future } => future.poll(cx),
            InnerProjection::Sentry { future } => future.poll(cx),
        }
    }
}

#[cfg(feature = "sentry")]
impl<S, B, R> tower_service::Service<axum::http::Request<B>> for Inner<S>
where
    S: tower_service::Service<axum::http::Request<B>, Response = axum::http::Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InnerFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        match self {
            Inner::Plain(inner) => inner.poll_ready(cx),
            Inner::Sentry(inner) => inner.poll_ready(cx),
        }
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        match self {
            Inner::Plain(inner) => InnerFuture::Plain {
                future: inner.call(request),
            },
            Inner::Sentry(inner) => InnerFuture::Sentry {
                future: inner.call(request),
            },
        }
    }
}

impl<S, B, R> tower_service::Service<axum::http::Request<B>> for TraceService<S>
where
    S: tower_service::Service<
            axum::http::Request<axum::body::Body>,
            Response = axum::http::Response<R>,
        >,
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
    R: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    R::Error: Into<axum::BoxError>,
{
    type Response = axum::http::Response<axum::body::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let shared = &*self.layer.shared;
        let (context, sent) = crate::trace::extract_http_with_correlation(request.headers());
        // The response echoes the caller's header when it was accepted, else the new ID.
        let correlation = match sent {
            Some(sent) if sent.as_bytes() == context.correlation_id().as_bytes() => {
                Some(sent.clone())
            }
            _ => axum::http::HeaderValue::from_str(context.correlation_id()).ok(),
        };
        let method = request.method().clone();
        let method_index = method_label(&method);
        let method_label = method_index.1;
        // The route template, never the raw path: bounded label values and span names.
        let matched = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .cloned();
        let route = matched.as_ref().map_or("unmatched", |path| path.as_str());
        let started = quanta::Instant::now();
        let request_length = content_length(request.headers());
        let metrics = shared.metrics.as_ref().map(|metrics| {
            let route = metrics.route(method_index, route);
            if let Some(size) = request_length {
                route.request_size.observe(size);
            }
            InFlight::new(route)
        });
        // A chunked or streamed request body is counted as the handler reads it.
        let request = {
            let histogram = metrics.as_ref().map(|InFlight(route)| &route.request_size);
            request.map(|body| counted_body(body, request_length.is_some(), histogram))
        };
        // A Sentry hub of its own: this request's breadcrumbs stay with this request.
        #[cfg(feature = "sentry")]
        let hub = (shared.sentry && crate::errors::enabled()).then(|| {
            let ids = crate::errors::Ids {
                correlation: context.correlation_id(),
                causation: context.causation_id(),
            };
            crate::errors::request_hub(ids, &shared.service)
        });
        // A request the sampler drops gets no `tracing` span: its context carries the server
        // span's IDs and fields for its children and log lines. Others get the span, whose
        // parent is the remote caller, so it is created in the request's context; the inner
        // call too, as it may start work right away.
        let plan = crate::trace::plan_server_span(context.parent.as_ref(), module_path!());
        let mut context = Some(Box::new(context));
        let span = match plan {
            crate::trace::ServerSpan::Unrecorded { span, logged } => {
                if let Some(context) = &mut context {
                    context.server = Some(crate::trace::UnrecordedServer {
                        span,
                        logged,
                        method: method_label,
                        route: matched,
                        path: request.uri().path_and_query().cloned(),
                        scheme: match request.uri().scheme() {
                            Some(scheme) if *scheme == axum::http::uri::Scheme::HTTPS => "https",
                            _ => "http",
                        },
                    });
                }
                tracing::Span::none()
            }
            crate::trace::ServerSpan::Recorded => {
                let _scope = ThreadContext::enter(&mut context);
                let span = server_span(method_label, route, request.uri());
                // The trace ID a sampled root was decided for is taken by now (or unused).
                crate::trace::preset_root_trace_id(0);
                span
            }
        };
        #[cfg(not(feature = "sentry"))]
        let hub = NoHub;
        let scope = ThreadContext::enter(&mut context);
        let inner = {
            let _entered = span.enter();
            run_in(&hub, || self.inner.call(request))
        };
        drop(scope);
        ResponseFuture {
            inner,
            span,
            context,
            hub,
            metrics,
            started,
            correlation,
        }
    }
}

/// The recorded server span of a request.
fn server_span(method: &'static str, route: &str, uri: &axum::http::Uri) -> tracing::Span {
    tracing::info_span!(
        parent: None,
        "HTTP request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = method,
        http.route = route,
        url.path = uri.path(),
        // Required by the HTTP semantic conventions; a server sees `http` unless a proxy in
        // front terminated TLS, which the URI then says.
        url.scheme = uri.scheme_str().unwrap_or("http"),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    )
}

/// The request's own Sentry hub, if error tracking is on.
#[cfg(feature = "sentry")]
type RequestHub = Option<std::sync::Arc<sentry::Hub>>;

/// Without the `sentry` feature there is no hub.
#[cfg(not(feature = "sentry"))]
type RequestHub = NoHub;

#[cfg(not(feature = "sentry"))]
#[derive(Debug)]
struct NoHub;

/// Runs `f` with `hub` as the current Sentry hub.
#[cfg(feature = "sentry")]
fn run_in<R>(hub: &RequestHub, f: impl FnOnce() -> R) -> R {
    match hub {
        Some(hub) => sentry::Hub::run(hub.clone(), f),
        None => f(),
    }
}

#[cfg(not(feature = "sentry"))]
fn run_in<R>(_: &RequestHub, f: impl FnOnce() -> R) -> R {
    f()
}

/// Makes a request's context current on this thread until dropped (panics included).
struct ThreadContext<'a>(&'a mut Option<Box<crate::trace::RequestContext>>);

impl<'a> ThreadContext<'a> {
    fn enter(slot: &'a mut Option<Box<crate::trace::RequestContext>>) -> Self {
        crate::trace::swap_thread_context(slot);
        ThreadContext(slot)
    }
}

impl Drop for ThreadContext<'_> {
    fn drop(&mut self) {
        crate::trace::swap_thread_context(self.0);
    }
}

/// Counts a request in `http_requests_in_flight` until dropped: a request whose client
/// went away is not left counted.
#[derive(Debug)]
struct InFlight(std::sync::Arc<RouteMetrics>);

impl InFlight {
    fn new(route: std::sync::Arc<RouteMetrics>) -> Self {
        route.in_flight.inc();
        InFlight(route)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`TraceService`]: polls the inner service in the request's
    /// span, context and Sentry hub, then records the HTTP metrics and adds
    /// `x-correlation-id` to the response. No allocation of its own.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: InnerFuture<F>,
        span: tracing::Span,
        context: Option<Box<crate::trace::RequestContext>>,
        hub: RequestHub,
        metrics: Option<InFlight>,
        started: quanta::Instant,
        correlation: Option<axum::http::HeaderValue>,
    }
}

impl<F, R, E> std::future::Future for ResponseFuture<F>
where
    F: std::future::Future<Output = Result<axum::http::Response<R>, E>>,
    R: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    R::Error: Into<axum::BoxError>,
{
    type Output = Result<axum::http::Response<axum::body::Body>, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let polled = {
            let _scope = ThreadContext::enter(this.context);
            run_in(this.hub, || this.inner.poll(cx))
        };
        let std::task::Poll::Ready(result) = polled else {
            return std::task::Poll::Pending;
        };
        // A response whose size is known is observed now; one streamed, as it flows.
        let mut streamed = None;
        if let Some(InFlight(route)) = &*this.metrics {
            match &result {
                Ok(response) => {
                    let status = response.status();
                    route.count(status.as_str(), Some(status.as_u16()));
                }
                Err(_) => route.count("error", None),
            }
            let seconds = this.started.elapsed().as_secs_f64();
            route.duration.observe(seconds);
            // The server span is entered here: a sampled request leaves its exemplar.
            if let Some(ids) = crate::metrics::exemplar::sampled() {
                let bucket = crate::metrics::exemplar::bucket_of(&DURATION_BOUNDS, seconds);
                route.exemplars[bucket].store(ids, seconds);
            }
            if let Ok(response) = &result {
                let size = content_length(response.headers())
                    .or_else(|| response.body().size_hint().exact().map(|n| n as f64));
                match size {
                    Some(size) => route.response_size.observe(size),
                    None => streamed = Some(route.response_size.clone()),
                }
            }
        }
        let mut result = result.map(|response| {
            response.map(|body| counted_body(body, streamed.is_none(), streamed.as_ref()))
        });
        // Out of the in-flight count now, not when the future is dropped.
        this.metrics.take();
        if let Ok(response) = &mut result {
            let status = response.status();
            this.span
                .record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                this.span.record("error.type", status.as_str());
                this.span.record("otel.status_description", status.as_str());
            }
            if let Some(value) = this.correlation.take() {
                response
                    .headers_mut()
                    .insert(crate::trace::correlation_header(), value);
            }
        }
        std::task::Poll::Ready(result)
    }
}
