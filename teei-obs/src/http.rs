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
