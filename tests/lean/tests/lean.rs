//! `default-features = false`: `/metrics`, the four `/health` endpoints and the in-memory
//! span sink work; the environment of an edge the build lacks is refused, not ignored.

use std::time::Duration;

use teei_obs::config::TraceExport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let status = raw
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, raw)
    })
    .await
    .expect("an answer within 5 s")
}

#[tokio::test]
async fn a_lean_build_serves_metrics_health_and_keeps_spans_in_memory() {
    let obs = teei_obs::init(
        teei_obs::Config::new("lean")
            .install_subscriber(false)
            .trace_export(TraceExport::Memory),
    )
    .unwrap();
    tracing::subscriber::with_default(obs.subscriber(), || {
        teei_obs_lean::handle(7).unwrap();
        teei_obs_lean::handle(0).unwrap_err();
    });
    let spans = obs.recent_spans();
    assert_eq!(
        spans.iter().filter(|s| s.name == "handle").count(),
        2,
        "{spans:?}"
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = obs.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let (status, metrics) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            r#"function_calls_total{function="handle",module="teei_obs_lean",result="error"} 1"#
        ),
        "{metrics}"
    );
    for path in [
        "/health",
        "/health/liveness",
        "/health/readiness",
        "/health/startup",
    ] {
        let (status, body) = get(addr, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}
