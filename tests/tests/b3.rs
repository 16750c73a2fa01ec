//! `OTEL_PROPAGATORS=b3multi`: a request carrying B3 headers continues that trace, and a
//! call made through the client middleware carries B3 headers onward (and no W3C ones).
//! Its own test binary: the propagators are process-wide once `init` has set them.

use std::net::SocketAddr;

use axum::routing::get;
use opentelemetry::trace::SpanKind;
use teei_obs::client::ClientMiddleware;
use teei_obs_tests::{request_with_headers, serve};

const TRACE: &str = "463ac35c9f6413ad48485a3953bb6124";
const SPAN: &str = "a2fb4a1d1a96d312";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3multi_continues_incoming_traces_and_propagates_outgoing_ones() {
    let obs = teei_obs::init(
        teei_obs::Config::from_lookup(|name| match name {
            "OTEL_PROPAGATORS" => Some("b3multi".into()),
            "OTEL_TRACES_SAMPLER" => Some("always_on".into()),
            "OTEL_TRACES_EXPORTER" => Some("memory".into()),
            _ => None,
        })
        .unwrap()
        .service_name("b3"),
    )
    .unwrap();

    // The callee echoes every propagation header it was sent.
    let callee: SocketAddr = serve(axum::Router::new().route(
        "/echo",
        get(|headers: axum::http::HeaderMap| async move {
            let mut seen: Vec<String> = headers
                .iter()
                .filter(|(name, _)| {
                    name.as_str().starts_with("x-b3-")
                        || ["b3", "traceparent", "tracestate"].contains(&name.as_str())
                })
                .map(|(name, value)| format!("{name}={}", value.to_str().unwrap_or("")))
                .collect();
            seen.sort();
            seen.join("\n")
        }),
    ))
    .await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::default())
        .build();
    let caller = serve(
        axum::Router::new()
            .route(
                "/call",
                get(move || {
                    let client = client.clone();
                    async move {
                        client
                            .get(format!("http://{callee}/echo"))
                            .send()
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap()
                    }
                }),
            )
            .layer(obs.request_layer()),
    )
    .await;

    let response = request_with_headers(
        caller,
        "GET",
        "/call",
        &[
            ("X-B3-TraceId", TRACE),
            ("X-B3-SpanId", SPAN),
            ("X-B3-Sampled", "1"),
            // A W3C header the service must not read: only B3 is configured.
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);

    obs.flush().unwrap();
    let spans = obs.recent_spans();
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("the server span");
    assert_eq!(server.span_context.trace_id().to_string(), TRACE);
    assert_eq!(server.parent_span_id.to_string(), SPAN);
    let client_span = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("the client span");

    let sent: Vec<&str> = response.body.lines().collect();
    assert_eq!(
        sent,
        [
            "x-b3-sampled=1".to_owned(),
            format!("x-b3-spanid={}", client_span.span_context.span_id()),
            format!("x-b3-traceid={TRACE}"),
        ],
        "{}",
        response.body
    );
}
