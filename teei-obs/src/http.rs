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

/// Middleware for a service's routes (from [`Obs::layer`](crate::Obs::layer)): reads the
/// W3C trace context, baggage and correlation IDs of each request, runs the request in a
/// server span that continues the caller's trace, makes the [`RequestContext`] current for
/// the request's task, and returns `x-correlation-id` in the response.
///
/// [`RequestContext`]: crate::trace::RequestContext
#[derive(Clone, Debug, Default)]
pub struct TraceLayer {
    service: std::sync::Arc<str>,
    redactor: crate::redact::Redactor,
    metrics: Option<std::sync::Arc<HttpMetrics>>,
}

impl TraceLayer {
    /// The layer, with no service name, no metrics and the default redaction policy.
    pub fn new() -> Self {
        TraceLayer::default()
    }

    pub(crate) fn for_service(
        service: &str,
        redactor: crate::redact::Redactor,
        metrics: std::sync::Arc<HttpMetrics>,
    ) -> Self {
        TraceLayer {
            service: service.into(),
            redactor,
            metrics: Some(metrics),
        }
    }
}

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
                    .buckets(vec![
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ]),
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
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        registry.register(Box::new(metrics.request_size.clone()))?;
        registry.register(Box::new(metrics.response_size.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        Ok(metrics)
    }
}

/// The `method` label: a standard method, or `OTHER`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
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
        TraceService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`TraceLayer`] wraps around a service.
#[derive(Clone, Debug)]
pub struct TraceService<S> {
    inner: S,
    layer: TraceLayer,
}

impl<S, B, R> tower_service::Service<axum::http::Request<B>> for TraceService<S>
where
    S: tower_service::Service<axum::http::Request<B>, Response = axum::http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: axum::body::HttpBody + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let context = crate::trace::extract_http(request.headers());
        let correlation = context.correlation_id().to_owned();
        let method = request.method().clone();
        let method_label = method_label(&method);
        // The route template, never the raw path: bounded label values and span names.
        let route: std::sync::Arc<str> = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or_else(|| "unmatched".into(), |path| path.as_str().into());
        let started = std::time::Instant::now();
        let metrics = self.layer.metrics.clone();
        if let Some(metrics) = &metrics {
            metrics.in_flight.inc();
            if let Some(size) = content_length(request.headers()) {
                metrics
                    .request_size
                    .with_label_values(&[method_label, &route])
                    .observe(size);
            }
        }
        let span = context.clone().in_scope(|| {
            tracing::info_span!(
                parent: None,
                "HTTP request",
                otel.name = %format_args!("{method_label} {route}"),
                otel.kind = "server",
                http.request.method = method_label,
                http.route = &*route,
                url.path = %request.uri().path(),
                http.response.status_code = tracing::field::Empty,
                otel.status_description = tracing::field::Empty,
            )
        });
        // A Sentry hub of its own: this request's breadcrumbs stay with this request.
        let hub = crate::errors::enabled().then(|| {
            crate::errors::request_hub(
                &context,
                &self.layer.service,
                method.as_str(),
                request.uri(),
                request.headers(),
                &self.layer.redactor,
            )
        });
        let future = context
            .clone()
            .in_scope(|| span.in_scope(|| self.inner.call(request)));
        let future = async move {
            match hub {
                Some(hub) => sentry::SentryFutureExt::bind_hub(future, hub).await,
                None => future.await,
            }
        };
        Box::pin(context.scope(async move {
            let mut result = future.instrument(span.clone()).await;
            if let Some(metrics) = &metrics {
                metrics.in_flight.dec();
                let status = match &result {
                    Ok(response) => response.status().as_str().to_owned(),
                    Err(_) => "error".to_owned(),
                };
                metrics
                    .requests
                    .with_label_values(&[method_label, &route, &status])
                    .inc();
                metrics
                    .duration
                    .with_label_values(&[method_label, &route])
                    .observe(started.elapsed().as_secs_f64());
                if let Ok(response) = &result {
                    let size = content_length(response.headers())
                        .or_else(|| response.body().size_hint().exact().map(|n| n as f64));
                    if let Some(size) = size {
                        metrics
                            .response_size
                            .with_label_values(&[method_label, &route])
                            .observe(size);
                    }
                }
            }
            if let Ok(response) = &mut result {
                let status = response.status();
                span.record("http.response.status_code", status.as_u16());
                if status.is_server_error() {
                    span.record("otel.status_description", status.as_str());
                }
                if let Ok(value) = axum::http::HeaderValue::from_str(&correlation) {
                    response
                        .headers_mut()
                        .insert(crate::trace::CORRELATION_HEADER, value);
                }
            }
            result
        }))
    }
}
