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
}

impl TraceLayer {
    /// The layer, with no service name and the default redaction policy.
    pub fn new() -> Self {
        TraceLayer::default()
    }

    pub(crate) fn for_service(service: &str, redactor: crate::redact::Redactor) -> Self {
        TraceLayer {
            service: service.into(),
            redactor,
        }
    }
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
    R: Send + 'static,
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
        let span = context.clone().in_scope(|| {
            tracing::info_span!(
                parent: None,
                "HTTP request",
                otel.name = %method,
                otel.kind = "server",
                http.request.method = %method,
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
