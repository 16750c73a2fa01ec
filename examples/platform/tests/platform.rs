//! The TypeScript report's integration checks ("Integration Testing"), run against the
//! started platform: the `platform` binary launches the seven service binaries on
//! 127.0.0.1, exactly as the README's main-job command does.
//!
//! - liveness, readiness and startup report `healthy` on all seven ports;
//! - `/metrics` answers on all seven;
//! - a request with `X-Correlation-ID` through the gateway shows up in the exported trace
//!   (a real OTLP/gRPC receiver), across the services it reached, bearer token nowhere.
//!
//! Then the same with the real dependencies: PostgreSQL (`DATABASE_URL`) and NATS
//! (`NATS_URL`), started by the test on loopback ports.

mod common;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Platform, SERVICES, json};

use teei_obs_tests::otlp::{self, ReceivedSpan};
use teei_obs_tests::servers::{self, Nats, Postgres};

async fn health_and_metrics_on_all_seven(platform: &Platform) {
    for service in SERVICES {
        let addr = platform.addr(service);
        for probe in ["liveness", "readiness", "startup"] {
            let response = teei_obs_tests::request(addr, "GET", &format!("/health/{probe}"))
                .await
                .unwrap();
            assert_eq!(response.status, 200, "{service} {probe}: {}", response.body);
            assert_eq!(
                json(&response.body)["status"],
                "healthy",
                "{service} {probe}"
            );
        }
        let health = json(
            &teei_obs_tests::request(addr, "GET", "/health")
                .await
                .unwrap()
                .body,
        );
        assert_eq!(health["status"], "healthy", "{service}: {health}");
        assert_eq!(health["service"], service, "{health}");
        // Healthy dependencies say so, as the TypeScript package's did.
        for dependency in health["dependencies"].as_array().expect("dependencies") {
            let message = dependency["message"].as_str().unwrap_or_default();
            let expected = match dependency["kind"].as_str() {
                Some("nats") => "NATS connected to ",
                Some("http") => "200 OK in ",
                Some("db") => "Database connection OK",
                _ => "OK in ",
            };
            assert!(message.starts_with(expected), "{service}: {dependency}");
        }
        let metrics = teei_obs_tests::request(addr, "GET", "/metrics")
            .await
            .unwrap();
        assert_eq!(metrics.status, 200, "{service} /metrics");
        // The scrape's own connection is one of those open.
        let open = teei_obs_tests::sample(&metrics.body, r#"active_connections{type="http"}"#);
        assert!(open.is_some_and(|n| n >= 1.0), "{service}: {open:?}");
        for family in [
            "process_resident_memory_bytes",
            "tokio_workers",
            "health_check_status",
        ] {
            assert!(
                metrics.body.contains(family),
                "{service} /metrics lacks {family}"
            );
        }
    }
    // Each service's /metrics carries its own annotated functions.
    let buddy = teei_obs_tests::request(platform.addr("buddy-service"), "GET", "/metrics")
        .await
        .unwrap();
    assert!(
        buddy.body.contains(r#"function="on_event""#),
        "{}",
        buddy.body
    );
    let gateway = json(
        &teei_obs_tests::request(platform.addr("api-gateway"), "GET", "/health")
            .await
            .unwrap()
            .body,
    );
    let checked: Vec<&str> = gateway["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    for downstream in &SERVICES[1..] {
        assert!(
            checked.contains(downstream),
            "gateway does not check {downstream}: {gateway}"
        );
    }
}

/// What buddy-service learnt about `id`, through the gateway.
async fn buddies_of(client: &reqwest::Client, gateway: SocketAddr, id: &str) -> serde_json::Value {
    let response = client
        .get(format!("http://{gateway}/v1/buddies/{id}"))
        .send()
        .await
        .unwrap();
    json(&response.text().await.unwrap())
}

/// Waits until `service`'s readiness answers `status`, at most `within` from `since`;
/// returns the body.
async fn readiness_is(
    platform: &Platform,
    service: &str,
    status: u16,
    since: Instant,
    within: Duration,
) -> String {
    let addr = platform.addr(service);
    loop {
        let ready = teei_obs_tests::request(addr, "GET", "/health/readiness")
            .await
            .unwrap();
        if ready.status == status {
            return ready.body;
        }
        assert!(
            since.elapsed() < within,
            "{service} readiness still {} after {:?}: {}",
            ready.status,
            since.elapsed(),
            ready.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn trace_of<'a>(spans: &'a [ReceivedSpan], correlation: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| otlp::attribute(&s.span, "correlation.id").as_deref() == Some(correlation))
        .collect()
}

fn service_of(span: &ReceivedSpan) -> &str {
    span.resource
        .iter()
        .find(|(k, _)| k == "service.name")
        .map_or("", |(_, v)| v.as_str())
}

/// Checks the trace of the report's request through the gateway: spans of the gateway,
/// unified-profile and buddy-service, one trace ID, and the parent links forward → the
/// gateway's client span → unified-profile's server span. Says what is missing or wrong.
fn the_profile_trace(trace: &[&ReceivedSpan]) -> Result<(), String> {
    let names: Vec<(&str, &str)> = trace
        .iter()
        .map(|s| (s.span.name.as_str(), service_of(s)))
        .collect();
    for service in ["api-gateway", "unified-profile", "buddy-service"] {
        if !names.iter().any(|(_, s)| *s == service) {
            return Err(format!("no span of {service}: {names:?}"));
        }
    }
    for name in [
        "GET /v1/profile/{id}",
        "forward",
        "load_profile",
        "on_event",
    ] {
        if !names.iter().any(|(n, _)| *n == name) {
            return Err(format!("no {name} span: {names:?}"));
        }
    }
    let trace_id = &trace[0].span.trace_id;
    if !trace.iter().all(|s| &s.span.trace_id == trace_id) {
        return Err(format!("more than one trace: {names:?}"));
    }
    // Parent links: forward → the middleware's client span → the profile service's server span.
    let forward = trace
        .iter()
        .find(|s| s.span.name == "forward")
        .expect("checked above");
    let client = trace
        .iter()
        .find(|s| {
            service_of(s) == "api-gateway"
                && s.span.kind == SpanKind::Client as i32
                && s.span.parent_span_id == forward.span.span_id
        })
        .ok_or_else(|| format!("no client span under forward: {names:?}"))?;
    if client.span.name != "GET" {
        return Err(format!(
            "the client span is {:?}, not GET",
            client.span.name
        ));
    }
    let profile_server = trace
        .iter()
        .find(|s| service_of(s) == "unified-profile" && s.span.name == "GET /v1/profile/{id}")
        .ok_or_else(|| format!("no server span of unified-profile: {names:?}"))?;
    if profile_server.span.parent_span_id != client.span.span_id {
        return Err(format!(
            "unified-profile's server span is not under the gateway's client span: {names:?}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_checks_on_the_default_platform() {
    let collector = otlp::free_port();
    let received = otlp::grpc_receiver(collector).await;
    let platform = Platform::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}")),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ("OTEL_TRACES_SAMPLER", "always_on".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ]);
    health_and_metrics_on_all_seven(&platform).await;

    // The report's tracing check, verbatim.
    let response = teei_obs_tests::request_with_headers(
        platform.addr("api-gateway"),
        "GET",
        "/v1/profile/user123",
        &[
            ("X-Correlation-ID", "test-123"),
            ("Authorization", "Bearer TOKEN"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(json(&response.body)["name"], "Ada Lovelace");
    assert_eq!(response.header("x-correlation-id"), Some("test-123"));

    // The gateway, unified-profile and — through the profile.viewed event — buddy-service.
    // Each service exports on its own timer, so a service's spans can arrive in more than
    // one batch: wait until every span checked below is in, not just one per service.
    let spans = received
        .wait_for(Duration::from_secs(20), |spans| {
            the_profile_trace(&trace_of(spans, "test-123")).is_ok()
        })
        .await;
    if let Err(missing) = the_profile_trace(&trace_of(&spans, "test-123")) {
        panic!("{missing}");
    }
    let everything = format!("{spans:?}");
    assert!(
        !everything.contains("TOKEN"),
        "the bearer token was exported"
    );

    // Unknown paths share one `route` label value.
    for i in 0..50 {
        let path = format!("/no/such/{i}");
        let response = teei_obs_tests::request(platform.addr("api-gateway"), "GET", &path)
            .await
            .unwrap();
        assert_eq!(response.status, 404);
    }
    let metrics = teei_obs_tests::request(platform.addr("api-gateway"), "GET", "/metrics")
        .await
        .unwrap();
    let unmatched = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("http_requests_total") && l.contains("unmatched"))
        .count();
    assert_eq!(unmatched, 1, "{}", metrics.body);

    let status = platform.stop();
    assert!(status.success(), "the platform stopped with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_on_real_postgres_and_nats() {
    let mut postgres = Postgres::start(otlp::free_port());
    let mut nats = Nats::start(otlp::free_port());
    assert!(
        servers::wait_for_port(nats.addr, true),
        "nats-server did not start"
    );
    let platform = Platform::start(&[
        ("DATABASE_URL", postgres.url()),
        ("NATS_URL", format!("nats://{}", nats.addr)),
    ]);
    health_and_metrics_on_all_seven(&platform).await;

    let client = reqwest::Client::new();
    let gateway = platform.addr("api-gateway");
    let put = client
        .put(format!("http://{gateway}/v1/profile/user999"))
        .header("X-Correlation-ID", "pg-1")
        .body(r#"{"name":"Katherine Johnson","email":"katherine@example.org"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let get = client
        .get(format!("http://{gateway}/v1/profile/user999"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(
        json(&get.text().await.unwrap())["name"],
        "Katherine Johnson"
    );

    // The events travelled through the real nats-server to buddy-service.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let buddies = buddies_of(&client, gateway, "user999").await;
        if buddies["events"]["profile.updated"] == 1 && buddies["events"]["profile.viewed"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events did not arrive: {buddies}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = teei_obs_tests::request(platform.addr("unified-profile"), "GET", "/metrics")
        .await
        .unwrap();
    assert!(
        metrics.body.contains(
            r#"db_queries_total{operation="UPSERT",status="success",table="profiles"} 1"#
        ),
        "{}",
        metrics.body
    );

    // nats-server killed under the running services: every event-bus check turns
    // unhealthy within its interval (5 s) + timeout (2 s), and readiness says 503.
    const ON_THE_BUS: [&str; 5] = [
        "unified-profile",
        "kintell-connector",
        "buddy-service",
        "upskilling-connector",
        "safety-moderation",
    ];
    nats.stop();
    let stopped = Instant::now();
    let bound = Duration::from_secs(7) + Duration::from_millis(1500);
    for service in ON_THE_BUS {
        let body = readiness_is(&platform, service, 503, stopped, bound).await;
        assert!(body.contains("event-bus"), "{service}: {body}");
    }
    println!(
        "NATS killed: all five unready after {:?}",
        stopped.elapsed()
    );
    // Restarted: the same clients reconnect, no service restarts, events flow again.
    nats.resume();
    let resumed = Instant::now();
    for service in ON_THE_BUS {
        readiness_is(&platform, service, 200, resumed, Duration::from_secs(30)).await;
    }
    println!("NATS back: all five ready after {:?}", resumed.elapsed());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // Views published after the restart reach buddy-service through the new server.
        let _ = client
            .get(format!("http://{gateway}/v1/profile/user999"))
            .send()
            .await
            .unwrap();
        let buddies = buddies_of(&client, gateway, "user999").await;
        if buddies["events"]["profile.viewed"].as_u64() > Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no events after NATS came back: {buddies}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // PostgreSQL down: unified-profile turns unready, the gateway degraded, nobody dies.
    postgres.stop();
    let profile = platform.addr("unified-profile");
    let body = readiness_is(
        &platform,
        "unified-profile",
        503,
        Instant::now(),
        Duration::from_secs(20),
    )
    .await;
    assert!(body.contains("database"), "{body}");
    let live = teei_obs_tests::request(profile, "GET", "/health/liveness")
        .await
        .unwrap();
    assert_eq!(live.status, 200, "a database outage must not fail liveness");
    let get = client
        .get(format!("http://{gateway}/v1/profile/user999"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 503);

    let status = platform.stop();
    assert!(status.success(), "the platform stopped with {status}");
}

#[test]
fn services_do_not_outlive_a_killed_launcher() {
    let platform = Platform::start(&[]);
    let addrs: Vec<_> = SERVICES.iter().map(|s| platform.addr(s)).collect();
    // No chance to stop anything: the kernel's parent-death signal must do it.
    platform.kill_launcher();
    for addr in addrs {
        assert!(
            teei_obs_tests::servers::wait_for_port(addr, false),
            "{addr} still listening after the launcher was killed"
        );
    }
}
