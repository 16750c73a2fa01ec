//! A small service for the graceful-shutdown test: `graceful <drain-ms>` serves `/slow`
//! (1 s) and the health routes on an ephemeral port of 127.0.0.1, prints `listening on
//! ADDR`, and on SIGTERM drains, finishes in-flight requests and flushes telemetry. Its
//! configuration is the environment's (`OTEL_*`, `RUST_LOG`) over the name `graceful`: the
//! closed-stderr test exports its spans with `OTEL_TRACES_EXPORTER=console`.

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let drain_ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let obs = teei_obs::init(
        teei_obs::Config::from_env_for("graceful", env!("CARGO_PKG_VERSION"))?
            .drain_delay(Duration::from_millis(drain_ms)),
    )?;
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            "done"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(
        listener,
        obs.router().merge(slow.layer(obs.request_layer())),
    )
    .with_graceful_shutdown(obs.shutdown_signal())
    .await?;
    obs.shutdown()?;
    println!("exited cleanly");
    Ok(())
}
