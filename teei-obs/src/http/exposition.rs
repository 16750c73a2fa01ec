//! `GET /metrics`: the registry in the Prometheus text format, or in OpenMetrics with
//! exemplars when the scraper asks for it.

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

/// What `/metrics` serves: the registry in the classic text format, or in OpenMetrics with
/// the exemplars of the function and HTTP duration histograms and call counters.
#[derive(Debug)]
pub(crate) struct Exposition {
    pub(crate) registry: prometheus::Registry,
    pub(crate) functions: crate::metrics::FunctionCollector,
    pub(crate) http: std::sync::Arc<super::HttpMetrics>,
    pub(crate) standard: crate::metrics::StandardMetrics,
}

impl Exposition {
    /// The exposition in OpenMetrics, exemplars included.
    pub(crate) fn openmetrics(&self) -> String {
        crate::metrics::openmetrics::encode(&self.registry.gather(), &|family, labels, bucket| {
            match (family, bucket) {
                (crate::metrics::names::HTTP_REQUEST_DURATION_SECONDS, Some(bucket)) => {
                    self.http.exemplar(labels, bucket)
                }
                (
                    crate::metrics::names::DB_QUERY_DURATION_SECONDS
                    | crate::metrics::names::EVENT_PROCESSING_DURATION_SECONDS,
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
