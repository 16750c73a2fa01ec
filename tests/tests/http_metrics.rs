//! The HTTP layer's metric families: labelled by route template and a bounded set of
//! methods, so clients cannot grow the series count.

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use tower::ServiceExt;

fn http_series(text: &str) -> usize {
    text.lines()
        .filter(|line| line.starts_with("http_") && !line.starts_with('#'))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_do_not_grow_the_series() {
    let obs = teei_obs::init(teei_obs::Config::new("gateway").install_subscriber(false)).unwrap();
    let app = axum::Router::new()
        .route("/v1/profile/{id}", get(|| async { "profile" }))
        .layer(obs.layer());
    let call = |method: &str, path: String| {
        let app = app.clone();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        async move { app.oneshot(request).await.unwrap().status().as_u16() }
    };

    assert_eq!(call("GET", "/v1/profile/1".into()).await, 200);
    assert_eq!(call("GET", "/v1/profile/2".into()).await, 200);
    assert_eq!(call("GET", "/unknown/0".into()).await, 404);
    assert_eq!(call("BREW", "/v1/profile/3".into()).await, 405);
    let text = obs.render_metrics();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/v1/profile/{id}",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"method="OTHER""#), "{text}");
    // The first unknown path of each kind may add its (bounded) label combination...
    call("GET", "/first/unknown".into()).await;
    call("X-CUSTOM", "/first/unknown".into()).await;
    let first = http_series(&obs.render_metrics());

    // ...the next 100,000 add nothing.
    for i in 0..100_000u32 {
        let method = if i % 2 == 0 { "GET" } else { "X-CUSTOM" };
        call(method, format!("/scan/{i}/../{i}?q={i}")).await;
    }
    let text = obs.render_metrics();
    assert_eq!(
        http_series(&text),
        first,
        "100,000 unknown paths added series"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 50002"#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_process_and_runtime_families_are_served() {
    let obs = teei_obs::init(teei_obs::Config::new("profile").install_subscriber(false)).unwrap();
    let metrics = obs.standard_metrics();
    metrics.db_query(
        "SELECT",
        "profiles",
        true,
        std::time::Duration::from_millis(3),
    );
    metrics.db_query(
        "INSERT",
        "profiles",
        false,
        std::time::Duration::from_millis(9),
    );
    metrics.event_processed("user.created", true, std::time::Duration::from_millis(1));
    metrics.event_published("user.created");
    metrics.queue_size("profile-events", 12);
    metrics.error("validation", "profile-api");
    tokio::time::sleep(std::time::Duration::from_millis(250)).await; // one scheduling probe
    let addr = teei_obs_tests::serve(obs.router()).await;
    let text = teei_obs_tests::request(addr, "GET", "/metrics")
        .await
        .unwrap()
        .body;
    for series in [
        r#"db_queries_total{operation="INSERT",status="error",table="profiles"} 1"#,
        r#"db_query_duration_seconds_count{operation="SELECT",table="profiles"} 1"#,
        r#"events_processed_total{status="success",type="user.created"} 1"#,
        r#"events_published_total{type="user.created"} 1"#,
        r#"queue_size{queue="profile-events"} 12"#,
        r#"errors_total{component="profile-api",type="validation"} 1"#,
        "tokio_workers 2",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "process_threads",
        "tokio_alive_tasks",
        "tokio_global_queue_depth",
        "tokio_scheduling_delay_seconds",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(family)),
            "{family} missing"
        );
    }
}
