//! The embedded console of one service, over real HTTP: its page is self-contained, its
//! JSON views show the service's health with history, function stats, searchable traces
//! and filterable log lines; no secret of the redaction corpus reaches any view; it stays
//! within its limits under 10,000 requests; it is off in production.

use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use serde_json::Value;
use teei_obs::console::ConsoleLimits;
use teei_obs::{counted, health_check, traced};
use teei_obs_tests::corpus::{SECRET_KEYS, SECRET_VALUES};
use teei_obs_tests::{Wiring, request, request_with_headers, serve};

#[derive(Debug)]
struct OutOfStock;

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of stock")
    }
}

impl std::error::Error for OutOfStock {}

#[counted(duration)]
#[traced(err, fields(order.id = id))]
async fn place_order(id: u64) -> Result<u64, OutOfStock> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if id == 0 { Err(OutOfStock) } else { Ok(id) }
}

#[health_check(kind = "cache", interval = "100ms", timeout = "100ms")]
async fn cache() -> Result<String, String> {
    // A message that carries a credential, as careless check messages do.
    Err("cannot reach redis://:hunter2pw@cache:6379 with token=ghp_R8fK2mQ9xLwT4vB7nZ1cY6hJ3sD0aE5gU2pW".into())
}

async fn order(Path(id): Path<u64>) -> Result<String, (axum::http::StatusCode, String)> {
    match place_order(id).await {
        Ok(id) => Ok(format!("order {id}")),
        Err(error) => {
            tracing::error!(%error, "order failed");
            Err((axum::http::StatusCode::CONFLICT, error.to_string()))
        }
    }
}

/// Logs every secret of the corpus: `key=value` pairs in a message, JSON in a field, the
/// values alone, and a span attribute under each key's name.
async fn leak() -> &'static str {
    for key in SECRET_KEYS {
        let span = tracing::info_span!("keyed", note = %format!("{key}=s3cr3t-value"));
        let _entered = span.enter();
        tracing::info!("{key}=s3cr3t-value and {key}: s3cr3t-value");
        let mut object = serde_json::Map::new();
        object.insert((*key).to_owned(), Value::from("s3cr3t-value"));
        tracing::warn!(nested = %serde_json::Value::Object(object), "nested");
    }
    for (_, secret) in SECRET_VALUES {
        let span =
            tracing::info_span!("carry", note = *secret, name_hint = %format!("for {secret}"));
        let _entered = span.enter();
        tracing::info!(detail = *secret, "{secret}");
    }
    "leaked"
}

/// What the load test sends: a span inside the request span and a log line each.
#[traced]
async fn step(i: u64) -> u64 {
    tracing::info!(i, "step");
    i
}

fn app(obs: &teei_obs::Obs) -> axum::Router {
    let routes = axum::Router::new()
        .route("/orders/{id}", get(order))
        .route(
            "/steps/{i}",
            get(|Path(i): Path<u64>| async move { step(i).await.to_string() }),
        )
        .route("/leak", get(leak))
        .layer(obs.request_layer());
    obs.router().merge(routes)
}

async fn json(addr: std::net::SocketAddr, path: &str) -> Value {
    let response = request(addr, "GET", path).await.expect(path);
    assert_eq!(response.status, 200, "{path}: {}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    serde_json::from_str(&response.body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Fails if `seen` holds any secret of the corpus, or the check's credentials.
fn assert_no_secret(seen: &str) {
    assert!(!seen.contains("s3cr3t-value"), "a keyed secret leaks");
    assert!(!seen.contains("hunter2pw"), "the health message leaks");
    for (what, secret) in SECRET_VALUES {
        // JSON escapes `/` nowhere, so a leaked value would appear verbatim.
        assert!(!seen.contains(secret), "{what} leaks: {secret}");
    }
}

/// The page and every JSON view of the console at `addr`, each held trace included, as one
/// text.
async fn every_view(addr: std::net::SocketAddr) -> String {
    let mut seen = String::new();
    for path in [
        "/obs",
        "/obs/api/overview",
        "/obs/api/health",
        "/obs/api/functions",
        "/obs/api/logs?limit=1000",
    ] {
        seen.push_str(&request(addr, "GET", path).await.unwrap().body);
    }
    let traces = json(addr, "/obs/api/traces?limit=1000").await;
    let traces = traces["traces"].as_array().unwrap();
    assert!(!traces.is_empty(), "the console holds traces");
    for trace in traces {
        let id = trace["trace_id"].as_str().unwrap();
        let path = format!("/obs/api/traces/{id}");
        seen.push_str(&request(addr, "GET", &path).await.unwrap().body);
    }
    seen
}

fn config(name: &str) -> teei_obs::Config {
    teei_obs::Config::new(name)
        .install_subscriber(false)
        .capture_logs(true)
}

#[test]
fn a_service_console_shows_health_functions_traces_and_logs() {
    let obs = teei_obs::init(config("console-test")).expect("init");
    Wiring::Fast.run(&obs, async {
        let addr = serve(app(&obs)).await;
        let page = request(addr, "GET", "/obs").await.unwrap();
        assert_eq!(page.status, 200);
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.body.contains("teei-obs console"));
        // Self-contained: no script, style or font from elsewhere.
        for outside in ["src=\"http", "href=\"http", "@import", "url(http", "//cdn"] {
            assert!(!page.body.contains(outside), "the page loads {outside}");
        }

        let ok = request_with_headers(
            addr,
            "GET",
            "/orders/7",
            &[("X-Correlation-ID", "console-1")],
        )
        .await
        .unwrap();
        assert_eq!(ok.status, 200);
        let failed = request_with_headers(
            addr,
            "GET",
            "/orders/0",
            &[("X-Correlation-ID", "console-2")],
        )
        .await
        .unwrap();
        assert_eq!(failed.status, 409);
        tokio::time::sleep(Duration::from_millis(350)).await;

        // Traces: found by correlation ID, one waterfall with the function under the request.
        let found = json(addr, "/obs/api/traces?q=console-1").await;
        let traces = found["traces"].as_array().unwrap();
        assert_eq!(traces.len(), 1, "{found}");
        assert_eq!(traces[0]["route"], "/orders/{id}");
        assert_eq!(traces[0]["correlation_id"], "console-1");
        assert_eq!(traces[0]["errors"], 0);
        let trace_id = traces[0]["trace_id"].as_str().unwrap().to_owned();
        let trace = json(addr, &format!("/obs/api/traces/{trace_id}")).await;
        let spans = trace["spans"].as_array().unwrap();
        let server = spans
            .iter()
            .find(|s| s["kind"] == "server")
            .expect("server span");
        let function = spans
            .iter()
            .find(|s| s["name"] == "place_order")
            .expect("function span");
        assert_eq!(function["parent_id"], server["span_id"], "{trace}");
        assert_eq!(server["parent_id"], "");
        assert!(
            function["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kv| kv[0] == "order.id" && kv[1] == "7"),
            "{function}"
        );
        let by_status = json(addr, "/obs/api/traces?q=409").await;
        assert_eq!(
            by_status["traces"][0]["correlation_id"], "console-2",
            "{by_status}"
        );
        let errors = json(addr, "/obs/api/traces?status=error").await;
        let failed_trace = &errors["traces"][0];
        assert_eq!(failed_trace["correlation_id"], "console-2", "{errors}");
        assert_eq!(errors["traces"].as_array().unwrap().len(), 1);
        let missing = request(addr, "GET", "/obs/api/traces/0123").await.unwrap();
        assert_eq!(missing.status, 404);

        // Functions: exact counts, the error ratio and quantiles from the histogram.
        let functions = json(addr, "/obs/api/functions").await;
        let row = functions["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "place_order")
            .expect("place_order listed")
            .clone();
        assert_eq!(row["calls"], 2, "{row}");
        assert_eq!(row["errors"], 1);
        assert_eq!(row["error_ratio"], 0.5);
        assert_eq!(row["traced"], true);
        assert_eq!(row["span_name"], "place_order");
        let p50 = row["p50_ms"].as_f64().expect("p50");
        assert!(
            p50 >= 1.0 && p50 <= row["p99_ms"].as_f64().unwrap(),
            "{row}"
        );
        assert!(row["rate_per_s"].as_f64().unwrap() > 0.0);

        // Health: the check, its message (redacted) and its runs.
        let health = json(addr, "/obs/api/health").await;
        let check = &health["services"][0]["checks"][0];
        assert_eq!(check["name"], "cache", "{health}");
        assert_eq!(check["kind"], "cache");
        assert_eq!(check["status"], "unhealthy");
        let runs = check["history"].as_array().unwrap();
        assert!(runs.len() >= 2, "{health}");
        assert!(runs.iter().all(|run| run["passed"] == false));
        let message = check["message"].as_str().unwrap();
        assert!(
            !message.contains("hunter2pw") && !message.contains("ghp_"),
            "{message}"
        );

        // Logs: by level, by correlation ID, by trace ID.
        let errors = json(addr, "/obs/api/logs?level=error").await;
        let lines = errors["logs"].as_array().unwrap();
        assert!(lines.iter().all(|l| l["level"] == "error"), "{errors}");
        let line = lines
            .iter()
            .find(|l| l["msg"] == "order failed")
            .expect("the error line");
        assert_eq!(line["correlation_id"], "console-2");
        assert_eq!(line["trace_id"], failed_trace["trace_id"]);
        let by_correlation = json(addr, "/obs/api/logs?correlation=console-2").await;
        assert!(
            by_correlation["logs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["correlation_id"] == "console-2")
        );
        let by_trace = json(
            addr,
            &format!(
                "/obs/api/logs?trace={}",
                failed_trace["trace_id"].as_str().unwrap()
            ),
        )
        .await;
        assert!(!by_trace["logs"].as_array().unwrap().is_empty());
    });
}

#[test]
fn no_secret_of_the_corpus_reaches_any_view() {
    let obs = teei_obs::init(config("console-secrets")).expect("init");
    Wiring::Fast.run(&obs, async {
        let addr = serve(app(&obs)).await;
        let response = request(addr, "GET", "/leak").await.unwrap();
        assert_eq!(response.status, 200);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let seen = every_view(addr).await;
        assert!(
            seen.contains("keyed") && seen.contains("nested"),
            "the views hold the lines"
        );
        assert_no_secret(&seen);
        assert!(seen.contains("[REDACTED"), "the redacted forms are there");
    });
}

#[test]
fn the_console_stays_within_its_limits_under_10000_requests() {
    let limits = ConsoleLimits {
        traces: 50,
        spans_per_trace: 8,
        logs: 100,
    };
    let obs = teei_obs::init(config("console-limits").console_limits(limits)).expect("init");
    Wiring::Fast.run(&obs, async {
        let addr = serve(app(&obs)).await;
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        for i in 0..10_000u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "10,000 requests took over 120 s"
            );
            let response = client
                .get(format!("http://{addr}/steps/{i}"))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
        }
        // One trace of far more spans than its limit.
        client
            .get(format!("http://{addr}/leak"))
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let overview = json(addr, "/obs/api/overview").await;
        assert_eq!(overview["traces"], 50, "{overview}");
        assert!(overview["spans"].as_u64().unwrap() <= 50 * 8, "{overview}");
        assert_eq!(overview["logs"], 100, "{overview}");
        assert!(
            overview["dropped_spans"].as_u64().unwrap() > 0,
            "{overview}"
        );
        let (traces, spans, logs) = obs.console().expect("on").held();
        assert_eq!((traces, logs), (50, 100));
        assert!(spans <= 400);
        let newest = json(addr, "/obs/api/traces?limit=1").await;
        assert_eq!(
            newest["traces"][0]["spans"], 8,
            "the /leak trace is newest, cut at 8"
        );
        assert!(newest["traces"][0]["dropped_spans"].as_u64().unwrap() > 0);
    });
}

#[test]
fn the_console_is_off_in_production_unless_asked_for() {
    let production = config("console-prod").environment("production");
    assert!(!production.console_enabled());
    let obs = teei_obs::init(production).expect("init");
    assert!(obs.console().is_none());
    Wiring::Fast.run(&obs, async {
        let addr = serve(obs.router()).await;
        assert_eq!(request(addr, "GET", "/obs").await.unwrap().status, 404);
        assert_eq!(
            request(addr, "GET", "/obs/api/traces")
                .await
                .unwrap()
                .status,
            404
        );
    });
    let asked = teei_obs::Config::from_lookup(|name| match name {
        "DEPLOYMENT_ENVIRONMENT" => Some("production".into()),
        "TEEI_OBS_CONSOLE" => Some("true".into()),
        "TEEI_OBS_CONSOLE_TRACES" => Some("7".into()),
        _ => None,
    })
    .unwrap();
    assert!(asked.console_enabled());
    let off =
        teei_obs::Config::from_lookup(|name| (name == "TEEI_OBS_CONSOLE").then(|| "false".into()))
            .unwrap();
    assert!(!off.console_enabled());
    let bad = teei_obs::Config::from_lookup(|name| {
        (name == "TEEI_OBS_CONSOLE_LOGS").then(|| "many".into())
    });
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("TEEI_OBS_CONSOLE_LOGS")
    );
}

#[test]
fn the_platform_console_receives_otlp_and_shows_its_peers_without_a_secret() {
    use teei_obs::config::{Protocol, TraceExport};
    use teei_obs::console::{Console, Peer};
    // One thread: the service's requests run under this thread's subscriber.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The platform console first: the service exports to it over OTLP/HTTP, gzip on.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let console_addr = listener.local_addr().unwrap();
    let service_listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let service_addr = service_listener.local_addr().unwrap();
    let platform = Console::platform(
        teei_obs::redact::Redactor::default(),
        ConsoleLimits::default(),
        vec![
            Peer {
                name: "leaky".into(),
                url: format!("http://{service_addr}"),
            },
            // A peer that is down is shown as unreachable, not an error page.
            Peer {
                name: "gone".into(),
                url: "http://127.0.0.1:9".into(),
            },
        ],
    );
    let router = platform.router();
    runtime.spawn(async move { axum::serve(listener, router).await });

    let obs = teei_obs::init(
        config("leaky")
            .export_interval(Duration::from_millis(50))
            .otlp_compression(teei_obs::config::Compression::Gzip)
            .trace_export(TraceExport::Otlp {
                endpoint: format!("http://{console_addr}/v1/traces"),
                protocol: Protocol::HttpProtobuf,
            }),
    )
    .expect("init");
    let app = app(&obs);
    let dispatch = Wiring::Fast.dispatch(&obs);
    let _default = tracing::dispatcher::set_default(&dispatch);
    runtime.block_on(async {
        tokio::spawn(async move { axum::serve(service_listener, app).await });
        let leaked = request(service_addr, "GET", "/leak").await.unwrap();
        assert_eq!(leaked.status, 200);
        // No `flush` here: it would block the one thread the console answers on. The
        // export interval is 50 ms. The spans cross over OTLP: the platform holds the service's trace.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let traces = json(console_addr, "/obs/api/traces?service=leaky").await;
            if !traces["traces"].as_array().unwrap().is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no span arrived over OTLP"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seen = every_view(console_addr).await;
        assert!(seen.contains("carry"), "the spans are there");
        assert!(seen.contains("nested"), "the peer's log lines are there");
        let health = json(console_addr, "/obs/api/health").await;
        let services = health["services"].as_array().unwrap();
        assert_eq!(services.len(), 2, "{health}");
        assert_eq!(services[0]["service"], "leaky");
        assert_eq!(services[1]["service"], "gone");
        assert_eq!(services[1]["status"], "unreachable");
        assert_no_secret(&seen);
        // Not protobuf, or not OTLP: refused with a reason, nothing kept.
        let client = reqwest::Client::new();
        let wrong = client
            .post(format!("http://{console_addr}/v1/traces"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 415);
        let garbage = client
            .post(format!("http://{console_addr}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(vec![0xff, 0xff, 0xff])
            .send()
            .await
            .unwrap();
        assert_eq!(garbage.status(), 400);
    });
    obs.shutdown().unwrap();
}
