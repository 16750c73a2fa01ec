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
