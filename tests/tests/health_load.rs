//! 2,000 concurrent readiness requests against a check that takes 50 ms: the check body
//! runs once per interval however many requests arrive. Prints the latency distribution
//! (a measurement, not an assertion on time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use teei_obs::health_check;
use teei_obs_tests::{request, serve};

static BODY_RUNS: AtomicU64 = AtomicU64::new(0);

#[health_check(kind = "db", name = "slow", timeout = "1s", interval = "2s")]
async fn slow() -> Result<(), String> {
    BODY_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

const REQUESTS: usize = 2_000;

/// Sends `REQUESTS` readiness requests with at most `in_flight` sockets open at once;
/// returns the sorted latencies and the wall time.
async fn load(addr: std::net::SocketAddr, in_flight: usize) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight));
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let semaphore = semaphore.clone();
            tokio::spawn(async move {
                let _permit = semaphore.acquire().await.unwrap();
                let sent = Instant::now();
                let response = request(addr, "GET", "/health/readiness").await;
                (response.map(|r| r.status).unwrap_or(0), sent.elapsed())
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(REQUESTS);
    for task in tasks {
        let (status, latency) = task.await.unwrap();
        assert_eq!(status, 200);
        latencies.push(latency);
    }
    latencies.sort();
    (latencies, started.elapsed())
}

fn report(label: &str, latencies: &[Duration], wall: Duration) {
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "health load, {label}: {REQUESTS} readiness requests in {wall:?}; \
         latency p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.9),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_concurrent_probes_run_the_check_once_per_interval() {
    let obs = teei_obs::init(teei_obs::Config::new("load").install_subscriber(false)).unwrap();
    let addr = serve(obs.router()).await;
    let started = Instant::now();
    // All 2,000 at once (the first ones wait for the check's first 50 ms run; beyond the
    // listen backlog the kernel retransmits SYNs after 1 s, which shows in the tail).
    let (all_at_once, wall) = load(addr, REQUESTS).await;
    report("2000 in flight", &all_at_once, wall);
    // The same with a client pool of 64 connections at a time.
    let (pooled, wall) = load(addr, 64).await;
    report("64 in flight", &pooled, wall);

    let elapsed = started.elapsed();
    let intervals = elapsed.as_secs_f64() / 2.0;
    let runs = BODY_RUNS.load(Ordering::SeqCst);
    println!(
        "check body ran {runs}× in {elapsed:?} (interval 2 s) for {} requests",
        2 * REQUESTS
    );
    assert!(
        runs as f64 <= intervals.ceil() + 1.0,
        "{runs} runs of the check body in {elapsed:?} (interval 2 s)"
    );
    assert_eq!(obs.health().runs("slow"), Some(runs));
}
