//! `active_connections{type}`: the connections a server accepted and that are still open
//! (through `Obs::listener`), and a kind of the service's own (`nats`).

use std::time::{Duration, Instant};

use teei_obs_tests::sample;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn open_connections(obs: &teei_obs::Obs, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value =
            sample(&obs.render_metrics(), r#"active_connections{type="http"}"#).unwrap_or(-1.0);
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{value} open, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_http_connections_are_counted_until_they_close() {
    let obs = teei_obs::init(teei_obs::Config::new("conn").install_subscriber(false)).unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(obs.listener(listener), app).into_future());
    open_connections(&obs, 0.0).await;

    // Three keep-alive clients, each served once and left open.
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = [0u8; 256];
        let read = stream.read(&mut answer).await.unwrap();
        assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
        clients.push(stream);
    }
    open_connections(&obs, 3.0).await;
    clients.truncate(1);
    open_connections(&obs, 1.0).await;
    drop(clients);
    open_connections(&obs, 0.0).await;

    // A kind of the service's own.
    let nats = obs.standard_metrics().active_connections("nats");
    nats.set(1);
    assert_eq!(
        sample(&obs.render_metrics(), r#"active_connections{type="nats"}"#),
        Some(1.0)
    );
}
