//! The `metrics` facade: what a handler (or a library) records with `metrics::counter!`,
//! `gauge!` and `histogram!` appears on the service's `/metrics`, labels and all.

use axum::routing::get;
use teei_obs_tests::{request, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facade_counters_gauges_and_histograms_reach_metrics() {
    let obs = teei_obs::init(teei_obs::Config::new("jobs").install_subscriber(false)).unwrap();
    let routes = axum::Router::new().route(
        "/enqueue",
        get(|| async {
            metrics::counter!("jobs_total", "queue" => "a").increment(3);
            metrics::gauge!("jobs_waiting", "queue" => "a").set(7.0);
            metrics::histogram!("job_wait_seconds").record(0.2);
            "queued"
        }),
    );
    let addr = serve(obs.router().merge(routes)).await;
    assert_eq!(request(addr, "GET", "/enqueue").await.unwrap().status, 200);
    let text = request(addr, "GET", "/metrics").await.unwrap().body;
    assert!(text.contains("jobs_total{queue=\"a\"} 3"), "{text}");
    assert!(text.contains("jobs_waiting{queue=\"a\"} 7"), "{text}");
    assert!(text.contains("job_wait_seconds_count 1"), "{text}");
    // And in OpenMetrics, next to teei-obs's own families.
    let open = obs.render_openmetrics();
    assert!(open.contains("jobs_total{queue=\"a\"} 3"), "{open}");
    assert!(
        open.contains("function_calls") || open.contains("http_requests"),
        "{open}"
    );
}
