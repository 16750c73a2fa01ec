//! cargo run --release -p teei-obs-examples --example hello_overhead
//!
//! The same hello-world handler twice on 127.0.0.1: bare on port 3900, and with the full
//! teei-obs request layer (HTTP metrics, correlation IDs, tracing at 10 % sampling) on port
//! 3901; and on 3902 the bare handler plus a constant `x-correlation-id` response header
//! of the same length, to separate the header's wire cost from the layer's CPU cost.
//! `benches/http_overhead.sh` points wrk at them and compares. Stops after 300 s.

use std::time::Duration;

/// Adds a constant 36-character `x-correlation-id` to every response.
#[derive(Clone, Copy)]
struct EchoHeader;

impl<S> tower_layer::Layer<S> for EchoHeader {
    type Service = EchoService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        EchoService(inner)
    }
}

#[derive(Clone)]
struct EchoService<S>(S);

impl<S, B, R> tower_service::Service<axum::http::Request<B>> for EchoService<S>
where
    S: tower_service::Service<axum::http::Request<B>, Response = axum::http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let future = self.0.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            response.headers_mut().insert(
                "x-correlation-id",
                axum::http::HeaderValue::from_static("0b5e7a1c-3f2d-4c8e-9a6b-1d2e3f4a5b6c"),
            );
            Ok(response)
        })
    }
}

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
    let echo = tokio::net::TcpListener::bind("127.0.0.1:3902").await?;
    let stop = || tokio::time::sleep(Duration::from_secs(300));
    println!("bare on 127.0.0.1:3900, observed on 127.0.0.1:3901");
    let bare = axum::serve(bare, hello()).with_graceful_shutdown(stop());
    let observed =
        axum::serve(observed, hello().layer(obs.request_layer())).with_graceful_shutdown(stop());
    // The bare handler plus a fixed `x-correlation-id` response header as long as a
    // generated one: what the header's bytes alone cost on the wire and in the client.
    let echo = axum::serve(echo, hello().layer(EchoHeader)).with_graceful_shutdown(stop());
    let (a, b, c) = tokio::join!(bare, observed, echo);
    a?;
    b?;
    c?;
    Ok(())
}
