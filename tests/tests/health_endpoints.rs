//! The four health endpoints over loopback: shapes, status codes, degraded, startup,
//! shutdown, state passed to checks, and the IETF health+json format.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use teei_obs::health::{CheckOutcome, Damping};
use teei_obs::health_check;
use teei_obs_tests::{request, request_with_headers, serve};

/// A database pool stand-in, handed to the checks at start-up.
struct Pool {
    up: Arc<AtomicBool>,
}

/// A cheap-to-clone client, taken by value.
#[derive(Clone)]
struct CacheClient(Arc<AtomicBool>);

#[health_check(kind = "db", name = "postgres", timeout = "100ms", interval = "100ms")]
async fn database(pool: &Pool) -> Result<(), String> {
    if pool.up.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err("connection refused".into())
    }
}

#[health_check(kind = "cache", interval = "100ms", timeout = "100ms")]
async fn cache(client: CacheClient) -> CheckOutcome {
    if client.0.load(Ordering::SeqCst) {
        CheckOutcome::Healthy
    } else {
        CheckOutcome::Unhealthy("cache unreachable".into())
    }
}

#[health_check(kind = "custom", probes(liveness), interval = "1s", timeout = "1s")]
async fn event_loop() -> Result<String, std::convert::Infallible> {
    Ok("event loop turning".to_owned())
}

async fn json(addr: std::net::SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let response = request(addr, "GET", path).await.unwrap();
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{path}"
    );
    (
        response.status,
        serde_json::from_str(&response.body).unwrap(),
    )
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 10 s");
}

#[test]
fn a_check_whose_state_was_not_provided_fails_init_naming_check_and_type() {
    let error = teei_obs::init(teei_obs::Config::new("no-state").install_subscriber(false))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("postgres") && error.contains("Pool"),
        "{error}"
    );
    assert!(
        error.contains("cache") && error.contains("CacheClient"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_answer_in_the_typescript_shape_and_follow_the_checks() {
    let db_up = Arc::new(AtomicBool::new(true));
    let pool = Pool { up: db_up.clone() };
    let cache_up = Arc::new(AtomicBool::new(true));
    let obs = teei_obs::init(
        teei_obs::Config::new("unified-profile")
            .service_version("1.0.0")
            .install_subscriber(false)
            .provide(pool)
            .provide(CacheClient(cache_up.clone()))
            .health_damping(Damping {
                failures: 1,
                successes: 1,
            }),
    )
    .unwrap();
    let addr = serve(obs.router()).await;

    let (status, body) = json(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "unified-profile");
    assert_eq!(body["version"], "1.0.0");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(body["uptime"].is_u64());
    let dependencies = body["dependencies"].as_array().unwrap();
    assert_eq!(dependencies.len(), 3);
    let postgres = dependencies
        .iter()
        .find(|d| d["name"] == "postgres")
        .unwrap();
    assert_eq!(postgres["kind"], "db");
    assert_eq!(postgres["status"], "healthy");
    assert!(postgres["latency"].is_u64());
    // Healthy checks say so: a check's own text, else how long it took.
    for dependency in dependencies {
        let message = dependency["message"].as_str().unwrap_or_default();
        match dependency["name"].as_str() {
            Some("event_loop") => assert_eq!(message, "event loop turning"),
            _ => assert!(
                message.starts_with("OK in ") && message.ends_with(" ms"),
                "{dependency}"
            ),
        }
    }

    for path in ["/health/liveness", "/health/readiness", "/health/startup"] {
        let (status, body) = json(addr, path).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("healthy")),
            "{path}"
        );
    }
    let head = request(addr, "HEAD", "/health/readiness").await.unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    // A non-critical dependency down: degraded, still 200.
    cache_up.store(false, Ordering::SeqCst);
    eventually("degraded", async || {
        json(addr, "/health/readiness").await.1["status"] == "degraded"
    })
    .await;
    let (status, body) = json(addr, "/health/readiness").await;
    assert_eq!(status, 200);
    let cache = body["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "cache")
        .cloned()
        .unwrap();
    assert_eq!(cache["message"], "cache unreachable");

    // The database (critical) down: 503 on readiness, liveness unaffected.
    obs.health().mark_started();
    let postgres = teei_obs::health::checks()
        .find(|c| c.name() == "postgres")
        .unwrap();
    assert!(postgres.critical(), "kind db is critical by default");
    db_up.store(false, Ordering::SeqCst);
    eventually("unhealthy", async || {
        json(addr, "/health/readiness").await.0 == 503
    })
    .await;
    let (status, body) = json(addr, "/health/readiness").await;
    assert_eq!((status, body["status"].as_str()), (503, Some("unhealthy")));
    assert_eq!(json(addr, "/health/liveness").await.0, 200);
    // Started once, startup stays done.
    assert_eq!(json(addr, "/health/startup").await.0, 200);

    // The IETF format when asked for.
    let response = request_with_headers(
        addr,
        "GET",
        "/health",
        &[("accept", "application/health+json")],
    )
    .await
    .unwrap();
    assert_eq!(
        response.header("content-type"),
        Some("application/health+json")
    );
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["status"], "fail");
    assert_eq!(body["checks"]["postgres:responseTime"][0]["status"], "fail");

    db_up.store(true, Ordering::SeqCst);
    cache_up.store(true, Ordering::SeqCst);
    eventually("healthy again", async || {
        json(addr, "/health/readiness").await.0 == 200
    })
    .await;

    // Shutdown: readiness goes at once, liveness and /health keep answering.
    obs.health().set_shutting_down();
    let (status, body) = json(addr, "/health/readiness").await;
    assert_eq!((status, body["status"].as_str()), (503, Some("unhealthy")));
    assert_eq!(json(addr, "/health/liveness").await.0, 200);
    assert_eq!(json(addr, "/health").await.0, 200);
}
