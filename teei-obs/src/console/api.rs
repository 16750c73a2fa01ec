//! The console's page and JSON views, for one service and for a platform.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
use crate::metrics::Outcome;

const PAGE: &str = include_str!("page.html");

/// Calls per function at the moments the functions view was asked for, over the last
/// minute: the call rate is the difference over the window, with no timer of its own.
#[derive(Debug)]
pub(super) struct RateWindow {
    started: Instant,
    samples: VecDeque<(Instant, HashMap<String, u64>)>,
}

impl Default for RateWindow {
    fn default() -> Self {
        RateWindow {
            started: Instant::now(),
            samples: VecDeque::new(),
        }
    }
}

const RATE_WINDOW: Duration = Duration::from_secs(60);

impl RateWindow {
    /// Calls per second of each function, over the last minute (since the console started
    /// when it is younger), after recording `now`'s totals.
    fn rates(&mut self, totals: &HashMap<String, u64>) -> HashMap<String, f64> {
        let now = Instant::now();
        while self.samples.len() > 1
            && self
                .samples
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (since, before) = match self.samples.front() {
            Some((at, before)) if now.duration_since(*at) >= Duration::from_secs(1) => {
                (*at, Some(before))
            }
            _ => (self.started, None),
        };
        let seconds = now.duration_since(since).as_secs_f64().max(1e-3);
        let rates = totals
            .iter()
            .map(|(key, total)| {
                let base = before.and_then(|b| b.get(key)).copied().unwrap_or(0);
                (key.clone(), total.saturating_sub(base) as f64 / seconds)
            })
            .collect();
        if self.samples.len() >= 256 {
            self.samples.pop_front();
        }
        self.samples.push_back((now, totals.clone()));
        rates
    }
}

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
                json_response(json!({ "functions": functions_view(&s.console) }))
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
                json_response(merged(&p, view, raw.0.as_deref()).await)
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

/// The `q`-quantile of a cumulative histogram, interpolated inside its bucket as
/// Prometheus' `histogram_quantile` does; `None` without observations.
fn quantile(q: f64, snapshot: &crate::metrics::HistogramSnapshot) -> Option<f64> {
    if snapshot.count == 0 {
        return None;
    }
    let rank = q * snapshot.count as f64;
    let mut lower = (0.0, 0u64);
    for &(bound, cumulative) in &snapshot.buckets {
        if cumulative as f64 >= rank {
            let in_bucket = (cumulative - lower.1) as f64;
            let share = if in_bucket > 0.0 {
                (rank - lower.1 as f64) / in_bucket
            } else {
                0.0
            };
            return Some(lower.0 + (bound - lower.0) * share);
        }
        lower = (bound, cumulative);
    }
    // In the +Inf bucket: the highest finite bound, as Prometheus answers.
    Some(lower.0)
}

fn functions_view(console: &Console) -> Vec<Value> {
    // A function both counted and traced has two entries: one row.
    let mut rows: BTreeMap<(String, String), Value> = BTreeMap::new();
    for entry in crate::registry::functions() {
        let key = (entry.module().to_owned(), entry.name().to_owned());
        let location = entry.location();
        let row = rows.entry(key).or_insert_with(|| {
            json!({
                "service": console.inner.service,
                "name": entry.name(),
                "module": entry.module(),
                "location": format!("{}:{}", location.file, location.line),
                "counted": false,
                "traced": false,
                "span_name": Value::Null,
                "calls": 0, "errors": 0, "panics": 0, "cancelled": 0,
                "error_ratio": Value::Null, "rate_per_s": 0.0,
                "p50_ms": Value::Null, "p95_ms": Value::Null, "p99_ms": Value::Null,
            })
        });
        if let Some(traced) = entry.traced() {
            row["traced"] = json!(true);
            row["span_name"] = json!(traced.span_name());
        }
        if let Some(metrics) = entry.metrics() {
            let calls: u64 = Outcome::ALL.iter().map(|o| metrics.calls(*o)).sum();
            let errors = metrics.calls(Outcome::Error);
            let panics = metrics.calls(Outcome::Panic);
            row["counted"] = json!(true);
            row["calls"] = json!(calls);
            row["errors"] = json!(errors);
            row["panics"] = json!(panics);
            row["cancelled"] = json!(metrics.calls(Outcome::Cancelled));
            if calls > 0 {
                row["error_ratio"] = json!((errors + panics) as f64 / calls as f64);
            }
            if let Some(histogram) = metrics.histogram() {
                for (field, q) in [("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
                    row[field] = json!(quantile(q, &histogram).map(|s| s * 1000.0));
                }
            }
        }
    }
    let totals: HashMap<String, u64> = rows
        .iter()
        .map(|((module, name), row)| {
            (
                format!("{module}::{name}"),
                row["calls"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let rates = console
        .inner
        .rates
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .rates(&totals);
    rows.into_iter()
        .map(|((module, name), mut row)| {
            let rate = rates
                .get(&format!("{module}::{name}"))
                .copied()
                .unwrap_or(0.0);
            row["rate_per_s"] = json!(rate);
            row
        })
        .collect()
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
                || ["correlation.id", "http.route", "url.path", "code.namespace"]
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

/// One of the peers' views, merged: `health` → `services`, `functions`, `logs`.
async fn merged(platform: &PlatformConsole, view: &str, query: Option<&str>) -> Value {
    let key = match view {
        "health" => "services",
        other => other,
    };
    let client = peer_client();
    let mut asks = tokio::task::JoinSet::new();
    for (index, peer) in platform.peers.iter().enumerate() {
        let url = match query {
            Some(query) => format!("{}{PATH}/api/{view}?{query}", peer.url),
            None => format!("{}{PATH}/api/{view}", peer.url),
        };
        let client = client.clone();
        asks.spawn(async move {
            let answer = async {
                let response = client.get(&url).send().await?.error_for_status()?;
                response.bytes().await
            }
            .await
            .map_err(|error| crate::error_chain(&error))
            .and_then(|body| serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string()));
            (index, answer)
        });
    }
    let mut answers = Vec::new();
    while let Some(Ok(answer)) = asks.join_next().await {
        answers.push(answer);
    }
    answers.sort_by_key(|(index, _)| *index);
    let redactor = &platform.console.inner.redactor;
    let mut items = Vec::new();
    for (index, answer) in answers {
        let peer = &platform.peers[index];
        match answer {
            Ok(mut value) => {
                redactor.redact_json(&mut value);
                if let Some(Value::Array(list)) = value.get_mut(key).map(Value::take) {
                    items.extend(list);
                }
            }
            Err(error) if view == "health" => items.push(json!({
                "service": peer.name,
                "status": "unreachable",
                "checks": [],
                "error": super::store::bounded(redactor, &error),
            })),
            Err(_) => {}
        }
    }
    if view == "logs" {
        items.sort_by_key(|line| std::cmp::Reverse(line["time_unix_ms"].as_u64().unwrap_or(0)));
        items.truncate(1000);
    }
    json!({ key: items })
}

fn peer_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default()
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HistogramSnapshot;

    #[test]
    fn quantiles_interpolate_inside_the_bucket_as_prometheus_does() {
        let snapshot = HistogramSnapshot {
            buckets: vec![(0.1, 50), (0.2, 100)],
            count: 100,
            sum: 10.0,
        };
        assert!((quantile(0.5, &snapshot).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(0.75, &snapshot).unwrap() - 0.15).abs() < 1e-9);
        let empty = HistogramSnapshot {
            buckets: vec![(0.1, 0)],
            count: 0,
            sum: 0.0,
        };
        assert_eq!(quantile(0.5, &empty), None);
        let beyond = HistogramSnapshot {
            buckets: vec![(0.1, 0)],
            count: 3,
            sum: 3.0,
        };
        assert_eq!(quantile(0.99, &beyond), Some(0.1));
    }

    #[test]
    fn rates_are_taken_over_the_window() {
        let mut window = RateWindow {
            started: Instant::now() - Duration::from_secs(10),
            samples: VecDeque::new(),
        };
        let totals = HashMap::from([("f".to_owned(), 100u64)]);
        let first = window.rates(&totals)["f"];
        assert!((9.0..=10.1).contains(&first), "{first}");
        // A sample a second old: the next rate is over that second.
        window.samples[0].0 -= Duration::from_secs(2);
        let totals = HashMap::from([("f".to_owned(), 120u64)]);
        let second = window.rates(&totals)["f"];
        assert!((9.0..=10.1).contains(&second), "{second}");
    }
}
