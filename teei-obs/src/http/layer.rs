//! The request layer: trace context and correlation IDs in, a server span (or, for a
//! request the sampler drops, only its IDs) around the request, the HTTP metrics, the
//! correlation ID back in the response.

use super::body::counted_body;
use super::cells::Which;
use super::metrics::{HttpMetrics, InFlight, content_length, method_label};

/// Middleware for a service's routes (from [`Obs::request_layer`](crate::Obs::request_layer)): reads the
/// W3C trace context, baggage and correlation IDs of each request, runs the request in a
/// server span that continues the caller's trace, makes the [`RequestContext`] current for
/// the request's task, records the HTTP metric families, and returns `x-correlation-id` in
/// the response.
///
/// [`RequestContext`]: crate::trace::RequestContext
#[derive(Clone, Debug, Default)]
pub struct RequestLayer {
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

impl RequestLayer {
    /// The layer, with no service name, no metrics and the default redaction policy.
    pub fn new() -> Self {
        RequestLayer::default()
    }

    pub(crate) fn for_service(
        service: &str,
        metrics: std::sync::Arc<HttpMetrics>,
        sentry: bool,
    ) -> Self {
        RequestLayer {
            shared: std::sync::Arc::new(Shared {
                service: service.to_owned(),
                sentry,
                metrics: Some(metrics),
            }),
        }
    }
}

impl<S> tower_layer::Layer<S> for RequestLayer {
    type Service = RequestService<S>;

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
        RequestService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RequestLayer`] wraps around a service.
#[derive(Clone, Debug)]
pub struct RequestService<S> {
    inner: Inner<S>,
    layer: RequestLayer,
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

impl<S, B, R> tower_service::Service<axum::http::Request<B>> for RequestService<S>
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
        let correlation = echoed_correlation(sent, context.correlation_id());
        let method = method_label(request.method());
        // The route template, never the raw path: bounded label values and span names.
        let matched = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .cloned();
        let route = matched.as_ref().map_or("unmatched", |path| path.as_str());
        let started = quanta::Instant::now();
        let request_length = content_length(request.headers());
        let metrics = shared.metrics.as_ref().map(|metrics| {
            let route = metrics.route(method, route);
            if let Some(size) = request_length {
                route.observe(Which::RequestSize, size);
            }
            InFlight::new(route)
        });
        // A chunked or streamed request body is counted as the handler reads it.
        let request = {
            let histogram = metrics
                .as_ref()
                .map(|InFlight(route)| (route, Which::RequestSize));
            request.map(|body| counted_body(body, request_length.is_some(), histogram))
        };
        let hub = request_hub(shared, &context);
        let mut context = Some(Box::new(context));
        let span = start_server_span(&mut context, method.1, matched, request.uri());
        // The inner call in the request's span and context, as it may start work right away.
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

/// What the response says in `x-correlation-id`: the caller's header when it was accepted
/// (`sent`, as it came), else the ID the request got.
fn echoed_correlation(
    sent: Option<&axum::http::HeaderValue>,
    id: &str,
) -> Option<axum::http::HeaderValue> {
    match sent {
        Some(sent) if sent.as_bytes() == id.as_bytes() => Some(sent.clone()),
        _ => axum::http::HeaderValue::from_str(id).ok(),
    }
}

/// The request's server span. A request the sampler drops gets none: `context` carries the
/// span's IDs and fields for its children and log lines instead. Any other gets a `tracing`
/// span, whose parent is the remote caller, so it is created in the request's context.
fn start_server_span(
    context: &mut Option<Box<crate::trace::RequestContext>>,
    method: &'static str,
    matched: Option<axum::extract::MatchedPath>,
    uri: &axum::http::Uri,
) -> tracing::Span {
    let remote = context.as_ref().and_then(|c| c.parent.as_ref());
    match crate::trace::plan_server_span(remote, module_path!()) {
        crate::trace::ServerSpan::Unrecorded { span, logged } => {
            if let Some(context) = context {
                context.server = Some(crate::trace::UnrecordedServer {
                    span,
                    logged,
                    method,
                    route: matched,
                    path: uri.path_and_query().cloned(),
                    scheme: match uri.scheme() {
                        Some(scheme) if *scheme == axum::http::uri::Scheme::HTTPS => "https",
                        _ => "http",
                    },
                });
            }
            tracing::Span::none()
        }
        crate::trace::ServerSpan::Recorded => {
            let _scope = ThreadContext::enter(context);
            let route = matched.as_ref().map_or("unmatched", |path| path.as_str());
            let span = server_span(method, route, uri);
            // The trace ID a sampled root was decided for is taken by now (or unused).
            crate::trace::preset_root_trace_id(0);
            span
        }
    }
}

/// A Sentry hub of the request's own, when error tracking is on: its breadcrumbs stay with
/// this request.
#[cfg(feature = "sentry")]
fn request_hub(shared: &Shared, context: &crate::trace::RequestContext) -> RequestHub {
    (shared.sentry && crate::error_tracking::enabled()).then(|| {
        let ids = crate::error_tracking::Ids {
            correlation: context.correlation_id(),
            causation: context.causation_id(),
        };
        crate::error_tracking::request_hub(ids, &shared.service)
    })
}

#[cfg(not(feature = "sentry"))]
fn request_hub(_: &Shared, _: &crate::trace::RequestContext) -> RequestHub {
    NoHub
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

pin_project_lite::pin_project! {
    /// The response future of [`RequestService`]: polls the inner service in the request's
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
            let elapsed = this.started.elapsed();
            let bucket = route.observe(Which::Duration, elapsed.as_nanos() as u64);
            // The server span is entered here: a sampled request leaves its exemplar.
            if let Some(ids) = crate::metrics::exemplar::sampled() {
                route.series.exemplars[bucket].store(ids, elapsed.as_secs_f64());
            }
            if let Ok(response) = &result {
                // The body's own exact size first: most responses have one, and it spares
                // a header lookup that fails until hyper adds `content-length` itself.
                let size = response
                    .body()
                    .size_hint()
                    .exact()
                    .or_else(|| content_length(response.headers()));
                match size {
                    Some(size) => {
                        route.observe(Which::ResponseSize, size);
                    }
                    None => streamed = Some(route.clone()),
                }
            }
        }
        let mut result = result.map(|response| {
            let histogram = streamed.as_ref().map(|route| (route, Which::ResponseSize));
            response.map(|body| counted_body(body, streamed.is_none(), histogram))
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
