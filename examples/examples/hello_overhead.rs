//! cargo run --release -p teei-obs-examples --example hello_overhead
//!
//! The same hello-world handler twice on 127.0.0.1: bare on port 3900, and with the full
//! teei-obs request layer (HTTP metrics, correlation IDs, tracing at 10 % sampling) on port
//! 3901. `benches/http_overhead.sh` points wrk at both and compares. Stops after 120 s.

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let obs = teei_obs::init(
        teei_obs::Config::new("hello")
            .environment("production") // 10 % head sampling
            // `info`: the server span is live (a `warn` filter would disable it outright).
            .log_filter("info")
            .trace_export(teei_obs::config::TraceExport::None),
    )?;
    let hello = || axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let bare = tokio::net::TcpListener::bind("127.0.0.1:3900").await?;
    let observed = tokio::net::TcpListener::bind("127.0.0.1:3901").await?;
    let stop = || tokio::time::sleep(Duration::from_secs(120));
    println!("bare on 127.0.0.1:3900, observed on 127.0.0.1:3901");
    let bare = axum::serve(bare, hello()).with_graceful_shutdown(stop());
    let observed = axum::serve(observed, hello().layer(obs.layer())).with_graceful_shutdown(stop());
    let (a, b) = tokio::join!(bare, observed);
    a?;
    b?;
    Ok(())
}
