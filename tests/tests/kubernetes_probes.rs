//! The Deployment's probes follow the registered checks: a service whose slowest startup
//! check has a 5 s timeout and a 10 s interval gets a startup budget that covers three runs
//! of it (3 × 15 s) and the process's start (10 s), and probe timeouts above the check's
//! own; the grace period covers the drain and the flush bound the service was given.

use std::time::Duration;

use teei_obs::health_check;

#[health_check(kind = "db", name = "orders-db", timeout = "5s", interval = "10s")]
async fn orders_db() -> Result<(), String> {
    Ok(())
}

#[health_check(kind = "cache", probes(readiness), timeout = "1s", interval = "2s")]
async fn cache() -> Result<(), String> {
    Ok(())
}

#[test]
fn the_deployment_probes_cover_the_registered_checks() {
    let obs = teei_obs::init(
        teei_obs::Config::new("orders")
            .install_subscriber(false)
            .drain_delay(Duration::from_secs(3))
            .shutdown_timeout(Duration::from_secs(4)),
    )
    .unwrap();
    let files = teei_obs::ops::Generator::new(&obs).port(8080).kubernetes();
    let deployment = &files
        .iter()
        .find(|f| f.path == "kubernetes/deployment.yaml")
        .expect("a Deployment")
        .contents;
    let deployment: serde_json::Value = serde_norway::from_str(deployment).unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let startup = &container["startupProbe"];
    assert_eq!(startup["httpGet"]["path"], "/health/startup");
    let budget =
        startup["periodSeconds"].as_u64().unwrap() * startup["failureThreshold"].as_u64().unwrap();
    assert!(
        budget >= 3 * (5 + 10) + 10,
        "startup budget {budget} s: {startup}"
    );
    assert!(budget < 3 * (5 + 10) + 10 + 5, "not far past it: {budget}");
    assert!(startup["timeoutSeconds"].as_u64().unwrap() > 5);
    // Readiness includes the cache check (1 s) and the database (5 s): the slower wins.
    let readiness = &container["readinessProbe"];
    assert_eq!(readiness["httpGet"]["path"], "/health/readiness");
    assert!(readiness["timeoutSeconds"].as_u64().unwrap() > 5);
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"],
        "/health/liveness"
    );
    // preStop 1 s + drain 3 s + flush 4 s + 5 s.
    assert_eq!(pod["terminationGracePeriodSeconds"], 13);
    assert_eq!(container["lifecycle"]["preStop"]["sleep"]["seconds"], 1);
    assert_eq!(container["ports"][0]["containerPort"], 8080);
}
