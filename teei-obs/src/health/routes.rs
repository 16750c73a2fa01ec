//! The four health endpoints.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::{HealthManager, HealthReport, Probe, Status};

/// `GET`/`HEAD` `/health`, `/health/liveness`, `/health/readiness`, `/health/startup`.
pub(crate) fn health_router(manager: Arc<HealthManager>) -> Router {
    let route = |probe: Option<Probe>| {
        let manager = manager.clone();
        get(move |headers: HeaderMap| {
            let manager = manager.clone();
            async move { answer(&manager, probe, &headers).await }
        })
    };
    Router::new()
        .route("/health", route(None))
        .route("/health/liveness", route(Some(Probe::Liveness)))
        .route("/health/readiness", route(Some(Probe::Readiness)))
        .route("/health/startup", route(Some(Probe::Startup)))
}

async fn answer(
    manager: &Arc<HealthManager>,
    probe: Option<Probe>,
    headers: &HeaderMap,
) -> Response {
    let report = manager.report(probe).await;
    let code = match report.status {
        Status::Healthy | Status::Degraded => StatusCode::OK,
        Status::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
    };
    let wants_health_json = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/health+json"));
    let (content_type, body) = if wants_health_json {
        ("application/health+json", health_json(&report))
    } else if probe.is_none() {
        (
            "application/json",
            serde_json::to_value(&report).unwrap_or_default(),
        )
    } else {
        let mut body = json!({
            "status": report.status,
            "service": report.service,
            "timestamp": report.timestamp,
        });
        if report.status != Status::Healthy {
            body["dependencies"] = serde_json::to_value(&report.dependencies).unwrap_or_default();
        }
        ("application/json", body)
    };
    (
        code,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

/// The IETF draft "Health Check Response Format for HTTP APIs".
fn health_json(report: &HealthReport) -> serde_json::Value {
    let status = |s: Status| match s {
        Status::Healthy => "pass",
        Status::Degraded => "warn",
        Status::Unhealthy => "fail",
    };
    let checks: serde_json::Map<String, serde_json::Value> = report
        .dependencies
        .iter()
        .map(|check| {
            let mut entry = json!({
                "componentType": check.kind,
                "status": status(check.status),
                "observedValue": check.latency,
                "observedUnit": "ms",
                "time": report.timestamp,
            });
            if let Some(message) = &check.message {
                entry["output"] = json!(message);
            }
            (format!("{}:responseTime", check.name), json!([entry]))
        })
        .collect();
    json!({
        "status": status(report.status),
        "version": report.version,
        "serviceId": report.service,
        "description": format!("health of {}", report.service),
        "checks": checks,
    })
}
