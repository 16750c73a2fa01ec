//! Sentry unreachable: requests that report errors pay nothing for it, memory stays
//! bounded, drops are counted, and shutdown keeps its bound.

use std::time::{Duration, Instant};

use axum::routing::get;
use teei_obs_tests::otlp::free_port;
use teei_obs_tests::rss_kib;
use teei_obs_tests::{request, sample, serve};

const REQUESTS: usize = 1_000;

async fn timed(addr: std::net::SocketAddr, path: &str) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let response = request(addr, "GET", path).await.unwrap();
        assert_eq!(response.status, 200);
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

fn summary(latencies: &[Duration]) -> String {
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    format!("p50 {:?}, p90 {:?}, p99 {:?}", at(0.5), at(0.9), at(0.99))
}

fn router(obs: &teei_obs::Obs) -> axum::Router {
    axum::Router::new()
        .route(
            "/failing",
            get(|| async {
                tracing::error!(order = 7, "payment provider rejected the order");
                "ok"
            }),
        )
        .layer(obs.layer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sentry_adds_no_latency_and_shutdown_keeps_its_bound() {
    // Down: nothing listens at the DSN's address.
    let dead = free_port();
    let down = teei_obs::init(
        teei_obs::Config::new("down")
            .capture_logs(true)
            .sentry_dsn(&format!("http://public@{dead}/1"))
            .unwrap(),
    )
    .unwrap();
    let addr = serve(router(&down)).await;
    let _ = timed(addr, "/failing").await; // warm-up
    let before = rss_kib();
    let while_down = timed(addr, "/failing").await;
    let growth = rss_kib().saturating_sub(before);
    let metrics = down.render_metrics();
    let dropped = sample(
        &metrics,
        r#"teei_obs_sentry_envelopes_dropped_total{reason="queue_full"}"#,
    )
    .unwrap();
    let submitted = sample(&metrics, "teei_obs_sentry_envelopes_submitted_total").unwrap();
    let started = Instant::now();
    let _ = down.shutdown();
    let shutdown = started.elapsed();

    // Up: the same route against a live endpoint (the Sentry client is process-wide; a
    // second init binds the new one).
    let (dsn, envelopes) = teei_obs_tests::sentry_endpoint::start();
    let up = teei_obs::init(
        teei_obs::Config::new("up")
            .capture_logs(true)
            .sentry_dsn(&dsn)
            .unwrap(),
    )
    .unwrap();
    let addr = serve(router(&up)).await;
    let _ = timed(addr, "/failing").await;
    let while_up = timed(addr, "/failing").await;
    assert!(up.flush_errors(Duration::from_secs(5)));
    assert!(
        !envelopes.events().is_empty(),
        "the live endpoint received the events"
    );

    println!(
        "{REQUESTS} requests reporting an error each: Sentry down {}; Sentry up {}; \
         RSS +{growth} KiB while down; {submitted} envelopes handed over, {dropped} dropped at \
         the full queue; shutdown with Sentry down took {shutdown:?}",
        summary(&while_down),
        summary(&while_up)
    );
    let median = |l: &[Duration]| l[l.len() / 2];
    assert!(
        median(&while_down) < median(&while_up) + Duration::from_millis(1),
        "an unreachable Sentry costs {:?} per request",
        median(&while_down).saturating_sub(median(&while_up))
    );
    assert!(growth < 64 * 1024, "memory grew by {growth} KiB");
    assert!(
        dropped + submitted >= REQUESTS as f64,
        "every envelope is accounted for"
    );
    assert!(
        shutdown < Duration::from_secs(2) + Duration::from_millis(500),
        "{shutdown:?}"
    );
}
