//! The console's page and JSON views, for one service and for a platform.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{ConsoleSpan, StoredTrace};
use super::{Console, PATH, PlatformConsole};
use crate::health::HealthManager;

const PAGE: &str = include_str!("page.html");

#[derive(Clone)]
struct ServiceState {
    console: Console,
    health: Arc<HealthManager>,
}

/// `GET /obs` and `GET /obs/api/…` of a service.
pub(crate) fn service_router(console: Console, health: Arc<HealthManager>) -> Router {
    let state = ServiceState { console, health };
    Router::new()
        .route(PATH, get(|| async { page("service") }))
        .route(&format!("{PATH}/"), get(|| async { page("service") }))
        .route(
            &format!("{PATH}/api/overview"),
            get(|State(s): State<ServiceState>| async move { json_response(overview(&s.console)) }),
        )
        .route(
            &format!("{PATH}/api/health"),
            get(|State(s): State<ServiceState>| async move {
                json_response(json!({ "services": [health_view(&s.console, &s.health).await] }))
            }),
        )
        .route(
            &format!("{PATH}/api/functions"),
            get(|State(s): State<ServiceState>| async move {
                json_response(json!({ "functions": super::functions::functions_view(&s.console) }))
            }),
        )
        .route(
            &format!("{PATH}/api/traces"),
            get(
                |State(s): State<ServiceState>, Query(q): Query<TraceQuery>| async move {
                    json_response(traces_view(&s.console, &q))
                },
            ),
        )
        .route(
            &format!("{PATH}/api/traces/{{id}}"),
            get(
                |State(s): State<ServiceState>, Path(id): Path<String>| async move {
                    trace_view(&s.console, &id)
                },
            ),
        )
        .route(
            &format!("{PATH}/api/logs"),
            get(
                |State(s): State<ServiceState>, Query(q): Query<LogQuery>| async move {
                    json_response(json!({ "logs": logs_view(&s.console, &q) }))
                },
            ),
        )
        .with_state(state)
}

/// The platform console: its own traces (received over OTLP), the peers' other views.
pub(super) fn platform_router(platform: PlatformConsole) -> Router {
    let fan_out = |view: &'static str| {
        get(
            move |State(p): State<PlatformConsole>, raw: axum::extract::RawQuery| async move {
                json_response(super::peers::merged(&p, view, raw.0.as_deref()).await)
            },
        )
    };
    Router::new()
        .route(PATH, get(|| async { page("platform") }))
        .route(&format!("{PATH}/"), get(|| async { page("platform") }))
        .route(
            &format!("{PATH}/api/overview"),
            get(|State(p): State<PlatformConsole>| async move {
                let mut view = overview(&p.console);
                view["services"] = p.peers.iter().map(|peer| json!(peer.name)).collect();
                json_response(view)
            }),
        )
        .route(&format!("{PATH}/api/health"), fan_out("health"))
        .route(&format!("{PATH}/api/functions"), fan_out("functions"))
        .route(&format!("{PATH}/api/logs"), fan_out("logs"))
        .route(
            &format!("{PATH}/api/traces"),
            get(
                |State(p): State<PlatformConsole>, Query(q): Query<TraceQuery>| async move {
                    json_response(traces_view(&p.console, &q))
                },
            ),
        )
        .route(
            &format!("{PATH}/api/traces/{{id}}"),
            get(
                |State(p): State<PlatformConsole>, Path(id): Path<String>| async move {
                    trace_view(&p.console, &id)
                },
            ),
        )
        .route(
            "/v1/traces",
            axum::routing::post(
                |State(p): State<PlatformConsole>,
                 headers: axum::http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    super::otlp::receive(&p.console, &headers, &body)
                },
            ),
        )
        .with_state(platform)
}

fn page(mode: &str) -> Response {
    let body = PAGE.replace("__BASE__", PATH).replace("__MODE__", mode);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn json_response(value: Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        value.to_string(),
    )
        .into_response()
}

fn overview(console: &Console) -> Value {
    let (traces, spans, logs) = console.held();
    let limits = console.limits();
    let dropped = console
        .inner
        .traces
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .dropped_spans();
    json!({
        "service": console.inner.service,
        "traces": traces,
        "spans": spans,
        "logs": logs,
        "dropped_spans": dropped,
        "limits": {
            "traces": limits.traces,
            "spans_per_trace": limits.spans_per_trace,
            "logs": limits.logs,
        },
    })
}

async fn health_view(console: &Console, health: &Arc<HealthManager>) -> Value {
    let report = health.report(None).await;
    let histories = health.histories();
    let redactor = &console.inner.redactor;
    let checks: Vec<Value> = report
        .dependencies
        .iter()
        .map(|check| {
            let runs = histories
                .iter()
                .find(|h| h.name == check.name)
                .map(|h| h.runs.clone())
                .unwrap_or_default();
            json!({
                "name": check.name,
                "kind": check.kind,
                "status": check.status,
                "critical": check.critical,
                "latency_ms": check.latency,
                "message": check.message.as_deref().map(|m| super::store::bounded(redactor, m)),
                "history": runs,
            })
        })
        .collect();
    json!({
        "service": report.service,
        "status": report.status,
        "version": report.version,
        "uptime_s": report.uptime,
        "checks": checks,
    })
}

#[derive(Debug, Default, Deserialize)]
struct TraceQuery {
    /// Matched against the trace ID, correlation ID, route, span names, services.
    q: Option<String>,
    /// `error` or `ok`.
    status: Option<String>,
    service: Option<String>,
    limit: Option<usize>,
}

fn matches(trace_id: &str, trace: &StoredTrace, needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    let has = |text: &str| text.to_ascii_lowercase().contains(&needle);
    has(trace_id)
        || trace.spans.iter().any(|span| {
            has(&span.name)
                || has(&span.service)
                || [
                    "correlation.id",
                    "http.route",
                    "url.path",
                    "http.response.status_code",
                    "code.namespace",
                ]
                .iter()
                .any(|key| span.attribute(key).is_some_and(has))
        })
}

fn errors_in(trace: &StoredTrace) -> usize {
    trace.spans.iter().filter(|s| s.status == "error").count()
}

fn traces_view(console: &Console, query: &TraceQuery) -> Value {
    let traces = console
        .inner
        .traces
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let limit = query.limit.unwrap_or(100).min(1000);
    let needle = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let list: Vec<Value> = traces
        .newest_first()
        .filter(|(id, trace)| needle.is_none_or(|n| matches(id, trace, n)))
        .filter(|(_, trace)| match query.status.as_deref() {
            Some("error") => errors_in(trace) > 0,
            Some("ok") => errors_in(trace) == 0,
            _ => true,
        })
        .filter(|(_, trace)| {
            query
                .service
                .as_deref()
                .filter(|s| !s.is_empty())
                .is_none_or(|s| trace.spans.iter().any(|span| span.service == s))
        })
        .take(limit)
        .map(|(id, trace)| summary(id, trace))
        .collect();
    json!({ "traces": list, "held": traces.len() })
}

fn summary(trace_id: &str, trace: &StoredTrace) -> Value {
    let root = trace.root();
    let mut services: Vec<&str> = trace.spans.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    json!({
        "trace_id": trace_id,
        "name": root.map(|r| r.name.as_str()),
        "service": root.map(|r| r.service.as_str()),
        "services": services,
        "start_unix_ms": trace.start() / 1_000_000,
        "duration_ms": trace.end().saturating_sub(trace.start()) as f64 / 1e6,
        "spans": trace.spans.len(),
        "dropped_spans": trace.dropped,
        "errors": errors_in(trace),
        "correlation_id": trace.attribute("correlation.id"),
        "route": trace.attribute("http.route"),
        "status_code": trace.attribute("http.response.status_code"),
    })
}

fn trace_view(console: &Console, trace_id: &str) -> Response {
    let traces = console
        .inner
        .traces
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let Some(trace) = traces.get(&trace_id.to_ascii_lowercase()) else {
        return (
            StatusCode::NOT_FOUND,
            json_response(json!({ "error": format!("no trace {trace_id} is held") })),
        )
            .into_response();
    };
    let mut spans: Vec<&ConsoleSpan> = trace.spans.iter().collect();
    spans.sort_by_key(|s| s.start_unix_nano);
    json_response(json!({
        "trace_id": trace_id,
        "summary": summary(trace_id, trace),
        "spans": spans,
    }))
}

#[derive(Debug, Default, Deserialize)]
struct LogQuery {
    /// The least level shown: `error`, `warn`, `info`, `debug`, `trace`.
    level: Option<String>,
    correlation: Option<String>,
    trace: Option<String>,
    /// Matched against the message, target and field values.
    q: Option<String>,
    limit: Option<usize>,
}

fn level_rank(level: &str) -> u8 {
    match level {
        "error" => 5,
        "warn" => 4,
        "info" => 3,
        "debug" => 2,
        _ => 1,
    }
}

fn logs_view(console: &Console, query: &LogQuery) -> Vec<Value> {
    let logs = console.inner.logs.lock().unwrap_or_else(|e| e.into_inner());
    let least = query.level.as_deref().map_or(0, level_rank);
    fn given(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let (correlation, trace, needle) = (
        given(&query.correlation),
        given(&query.trace),
        given(&query.q),
    );
    logs.lines
        .iter()
        .rev()
        .filter(|line| level_rank(&line.level) >= least)
        .filter(|line| correlation.is_none_or(|c| line.correlation_id == c))
        .filter(|line| trace.is_none_or(|t| line.trace_id == t))
        .filter(|line| {
            needle.is_none_or(|n| {
                let n = n.to_ascii_lowercase();
                line.msg.to_ascii_lowercase().contains(&n)
                    || line.target.contains(&n)
                    || Value::Object(line.fields.clone())
                        .to_string()
                        .to_ascii_lowercase()
                        .contains(&n)
            })
        })
        .take(query.limit.unwrap_or(200).min(1000))
        .map(|line| json!(line))
        .collect()
}
