//! A hanging check is cut off at its timeout and a panicking one is reported; the service
//! keeps answering either way.

use std::time::{Duration, Instant};

use teei_obs::health_check;
use teei_obs_tests::{dependency_message, request, serve};

#[health_check(kind = "db", name = "hangs", timeout = "300ms", interval = "10s")]
async fn hangs() -> Result<(), String> {
    std::future::pending::<()>().await;
    Ok(())
}

#[health_check(kind = "nats", name = "panics", timeout = "100ms", interval = "100ms")]
async fn panics() -> Result<(), String> {
    panic!("broker handle poisoned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_and_panicking_checks_make_readiness_503_in_bounded_time() {
    std::panic::set_hook(Box::new(|_| {})); // the check's panic is expected
    let obs = teei_obs::init(teei_obs::Config::new("failures").install_subscriber(false)).unwrap();
    let router = obs.router();
    let addr = serve(router).await;

    let started = Instant::now();
    let response = request(addr, "GET", "/health/readiness").await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status, 503, "{}", response.body);
    assert!(
        took <= Duration::from_millis(300 + 100),
        "answered after {took:?}, the timeout is 300 ms"
    );
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let message = |name: &str| dependency_message(&body, name).unwrap_or_default();
    assert!(message("hangs").contains("timed out after 300ms"), "{body}");
    assert!(
        message("panics").contains("broker handle poisoned"),
        "{body}"
    );

    // The process lives on and keeps serving.
    for _ in 0..3 {
        assert_eq!(
            request(addr, "GET", "/health/readiness")
                .await
                .unwrap()
                .status,
            503
        );
        assert_eq!(
            request(addr, "GET", "/health/liveness")
                .await
                .unwrap()
                .status,
            200
        );
    }
    assert!(obs.health().runs("panics").unwrap() >= 1);
    let metrics = obs.render_metrics();
    assert!(
        metrics.contains(r#"health_check_status{kind="nats",name="panics"} 0"#),
        "{metrics}"
    );
}

#[health_check(kind = "db", name = "hangs-too", timeout = "300ms", interval = "10s")]
async fn hangs_too() -> Result<(), String> {
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_hanging_checks_cost_one_timeout_not_the_sum() {
    std::panic::set_hook(Box::new(|_| {}));
    let obs =
        teei_obs::init(teei_obs::Config::new("failures-2").install_subscriber(false)).unwrap();
    let addr = serve(obs.router()).await;
    let started = Instant::now();
    let response = request(addr, "GET", "/health").await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status, 503);
    assert!(
        took <= Duration::from_millis(300 + 100),
        "{took:?} for two 300 ms timeouts"
    );
}
