//! `health::http_get` and `HttpCheck` through reqwest: `https://` on loopback with a CA the
//! test generates, an endpoint answering 500, a redirect, statuses of the check's choosing;
//! and the same check behind `#[health_check]`, its message in `/health`.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use teei_obs::health::{HttpCheck, http_get};
use teei_obs_tests::otlp::{ReceiverTls, free_port, serve_tls};
use teei_obs_tests::tls::TestCa;
use teei_obs_tests::{request, serve};

fn router() -> axum::Router {
    axum::Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "down") }),
        )
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [("location", "/ok")]) }),
        )
        .route("/draining", get(|| async { StatusCode::NO_CONTENT }))
}

fn trusting(ca: &TestCa) -> reqwest::Client {
    let roots = reqwest::Certificate::from_pem_bundle(ca.ca.as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_a_500_a_redirect_and_chosen_statuses() {
    let ca = TestCa::generate("health-http-test-ca");
    let addr = free_port();
    serve_tls(
        addr,
        ReceiverTls {
            server: ca.server.clone(),
            client_ca: None,
        },
        router(),
    )
    .await;
    let https = |path: &str| format!("https://localhost:{}{path}", addr.port());

    // Trusting the test CA: healthy, the message says status and time.
    let message = HttpCheck::new(https("/ok"))
        .client(trusting(&ca))
        .run()
        .await
        .unwrap();
    assert!(
        message.starts_with("200 OK in ") && message.ends_with(" ms"),
        "{message}"
    );
    // The shared client does not know the test CA: the certificate is refused, and the
    // message says why.
    let refused = http_get(&https("/ok")).await.unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    // A 500: unhealthy, with the status.
    let broken = HttpCheck::new(https("/broken"))
        .client(trusting(&ca))
        .run()
        .await
        .unwrap_err();
    assert!(
        broken.contains("answered 500 Internal Server Error"),
        "{broken}"
    );
    // A redirect is followed to its answer.
    let moved = HttpCheck::new(https("/moved"))
        .client(trusting(&ca))
        .run()
        .await
        .unwrap();
    assert!(moved.starts_with("200 OK"), "{moved}");
    // The statuses that count are the check's to choose.
    let strict = HttpCheck::new(https("/draining"))
        .client(trusting(&ca))
        .healthy_statuses(200..=200)
        .run()
        .await
        .unwrap_err();
    assert!(strict.contains("204 No Content"), "{strict}");
    // Nothing listening: unhealthy, with the cause.
    let closed = free_port();
    let unreachable = http_get(&format!("http://{closed}/ok")).await.unwrap_err();
    assert!(
        unreachable.to_lowercase().contains("connect"),
        "{unreachable}"
    );
}

/// The plain-HTTP backend the registered check below reads (set once, before `init`), and
/// whether it reads the path that answers 500.
static TARGET: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();
static BROKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[teei_obs::health_check(
    kind = "http",
    name = "upstream",
    interval = "100ms",
    timeout = "100ms"
)]
async fn upstream() -> Result<String, String> {
    let path = if BROKEN.load(std::sync::atomic::Ordering::SeqCst) {
        "/broken"
    } else {
        "/ok"
    };
    http_get(&format!(
        "http://{}{path}",
        TARGET.get().expect("target set")
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_http_check_reports_its_message_and_a_500_makes_it_unhealthy() {
    let backend = serve(router()).await;
    TARGET.set(backend).unwrap();
    let obs = teei_obs::init(
        teei_obs::Config::new("http-check")
            .install_subscriber(false)
            .health_details(true),
    )
    .unwrap();
    let addr = serve(obs.router()).await;
    let health_when = async |status: &str| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let response = request(addr, "GET", "/health").await.unwrap();
            let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
            if body["dependencies"][0]["status"] == status {
                return (response.status, body);
            }
            assert!(tokio::time::Instant::now() < deadline, "{body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (status, body) = health_when("healthy").await;
    assert_eq!(status, 200);
    let message = body["dependencies"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("200 OK in "), "{message}");

    BROKEN.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = health_when("unhealthy").await;
    // An HTTP dependency is not critical by default: degraded, still serving.
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("degraded")),
        "{body}"
    );
    let message = body["dependencies"][0]["message"].as_str().unwrap();
    assert!(message.contains("answered 500"), "{message}");
}
