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
        .layer(obs.request_layer());
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

/// Bodies no header sizes — a chunked upload, a streamed download — are measured as they
/// flow; a body with a `Content-Length` is measured by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_and_streamed_bodies_are_measured_as_they_flow() {
    use teei_obs_tests::sample;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let obs = teei_obs::init(teei_obs::Config::new("uploads").install_subscriber(false)).unwrap();
    let app = axum::Router::new()
        .route(
            "/upload",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/download",
            get(|| async {
                let chunks = ["a".repeat(1000), "b".repeat(1000), "c".repeat(500)];
                Body::from_stream(futures_stream(chunks))
            }),
        )
        .layer(obs.request_layer());
    let addr = teei_obs_tests::serve(app).await;

    // 3 chunks, 2,500 bytes, no Content-Length.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut upload = format!(
        "POST /upload HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for chunk in ["x".repeat(1000), "y".repeat(1000), "z".repeat(500)] {
        upload.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    upload.push_str("0\r\n\r\n");
    stream.write_all(upload.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.ends_with("2500"), "{answer}");

    let download = teei_obs_tests::request(addr, "GET", "/download")
        .await
        .unwrap();
    assert_eq!(download.body.len(), 2500);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = obs.render_metrics();
        let uploaded = sample(
            &text,
            r#"http_request_size_bytes_sum{method="POST",route="/upload"}"#,
        );
        let downloaded = sample(
            &text,
            r#"http_response_size_bytes_sum{method="GET",route="/download"}"#,
        );
        if uploaded == Some(2500.0) && downloaded == Some(2500.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "uploaded {uploaded:?}, downloaded {downloaded:?}\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `chunks` as a body stream.
fn futures_stream(
    chunks: [String; 3],
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::convert::Infallible>> {
    futures_util::stream::iter(chunks.map(|c| Ok(axum::body::Bytes::from(c))))
}
