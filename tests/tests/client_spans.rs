//! Outgoing calls through the reqwest middleware and the tower client layer: a `client`
//! span per call, child of the caller's server span and parent of the callee's, in one
//! trace, with the HTTP semantic-convention attributes and the status recorded.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::routing::get;
use opentelemetry::trace::{SpanKind, Status};
use teei_obs::client::{ClientLayer, ClientMiddleware};
use teei_obs::config::TraceExport;
use teei_obs::trace::{Sampler, SpanData};
use teei_obs_tests::{request_with_headers, serve};

fn obs() -> &'static teei_obs::Obs {
    static OBS: OnceLock<teei_obs::Obs> = OnceLock::new();
    OBS.get_or_init(|| {
        teei_obs::init(
            teei_obs::Config::new("client-spans")
                .sampler(Sampler::AlwaysOn)
                .memory_capacity(10_000)
                .trace_export(TraceExport::Memory),
        )
        .expect("init")
    })
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The callee: answers with the status asked for and echoes the propagation headers.
async fn start_callee() -> SocketAddr {
    let router = axum::Router::new()
        .route(
            "/status/{code}",
            get(
                |axum::extract::Path(code): axum::extract::Path<u16>,
                 headers: axum::http::HeaderMap| async move {
                    let echoed = ["traceparent", "x-correlation-id"]
                        .iter()
                        .map(|name| {
                            let value = headers.get(*name).and_then(|v| v.to_str().ok());
                            format!("{name}={}", value.unwrap_or(""))
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    (axum::http::StatusCode::from_u16(code).unwrap(), echoed)
                },
            ),
        )
        .layer(obs().request_layer());
    serve(router).await
}

/// The caller: one route per client flavour, each calling the callee.
async fn start_caller(callee: SocketAddr) -> SocketAddr {
    let reqwest_client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::default())
        .build();
    let via_reqwest = move |axum::extract::Path(code): axum::extract::Path<u16>| {
        let client = reqwest_client.clone();
        async move {
            match client
                .get(format!("http://{callee}/status/{code}?q=1"))
                .send()
                .await
            {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(error) => format!("failed: {error}"),
            }
        }
    };
    let via_tower = move || async move {
        use tower::{Layer, ServiceExt};
        let hyper_client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<axum::body::Bytes>>();
        let client = ClientLayer::new().layer(hyper_client);
        let request = axum::http::Request::get(format!("http://{callee}/status/200"))
            .body(http_body_util::Empty::new())
            .unwrap();
        match client.oneshot(request).await {
            Ok(response) => response.status().to_string(),
            Err(error) => format!("failed: {error}"),
        }
    };
    // Bound and released: nothing listens there.
    let refused = teei_obs_tests::otlp::free_port();
    let to_nowhere = move || {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(ClientMiddleware::default())
            .build();
        async move {
            match client.get(format!("http://{refused}/")).send().await {
                Ok(response) => response.status().to_string(),
                Err(_) => "refused".to_owned(),
            }
        }
    };
    // Instrumentation that speaks the OpenTelemetry API, not `tracing`.
    let otel_api = || async {
        use opentelemetry::trace::{Tracer, TracerProvider};
        let tracer = opentelemetry::global::tracer_provider().tracer("third-party");
        tracer.in_span("raw-otel-span", |_cx| {});
        let mut headers = std::collections::HashMap::new();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&opentelemetry::Context::current(), &mut headers)
        });
        headers.get("traceparent").cloned().unwrap_or_default()
    };
    let router = axum::Router::new()
        .route("/otel-api", get(otel_api))
        .route("/reqwest/{code}", get(via_reqwest))
        .route("/tower", get(via_tower))
        .route("/nowhere", get(to_nowhere))
        .layer(obs().request_layer());
    serve(router).await
}

/// The caller's server span, the client span and the callee's server span of one call.
fn hop<'a>(spans: &'a [SpanData], correlation: &str, route: &str) -> [&'a SpanData; 3] {
    let caller = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server
                && s.name == format!("GET {route}")
                && attribute(s, "correlation.id").as_deref() == Some(correlation)
        })
        .unwrap_or_else(|| panic!("no caller span for {correlation}: {spans:#?}"));
    let trace_id = caller.span_context.trace_id();
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client && s.span_context.trace_id() == trace_id)
        .unwrap_or_else(|| panic!("no client span in {trace_id}"));
    let callee = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server
                && s.name == "GET /status/{code}"
                && s.span_context.trace_id() == trace_id
        })
        .unwrap_or_else(|| panic!("no callee span in {trace_id}"));
    [caller, client, callee]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reqwest_call_is_a_client_span_between_two_server_spans() {
    let callee = start_callee().await;
    let caller = start_caller(callee).await;
    let response = request_with_headers(
        caller,
        "GET",
        "/reqwest/200",
        &[("x-correlation-id", "hop-ok")],
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    assert!(
        response.body.contains("x-correlation-id=hop-ok"),
        "{}",
        response.body
    );

    obs().flush().unwrap();
    let spans = obs().recent_spans();
    let [caller_span, client, callee_span] = hop(&spans, "hop-ok", "/reqwest/{code}");
    assert_eq!(client.parent_span_id, caller_span.span_context.span_id());
    assert_eq!(callee_span.parent_span_id, client.span_context.span_id());
    assert!(callee_span.parent_span_is_remote);
    assert!(
        response.body.contains(&format!(
            "traceparent=00-{}-{}-01",
            client.span_context.trace_id(),
            client.span_context.span_id()
        )),
        "the callee saw the client span as its parent: {}",
        response.body
    );
    assert_eq!(client.name, "GET");
    for (key, value) in [
        ("http.request.method", "GET".to_owned()),
        ("server.address", "127.0.0.1".to_owned()),
        ("server.port", callee.port().to_string()),
        ("url.full", format!("http://{callee}/status/200?q=1")),
        ("http.response.status_code", "200".to_owned()),
    ] {
        assert_eq!(
            attribute(client, key).as_deref(),
            Some(value.as_str()),
            "{key}"
        );
    }
    assert_eq!(client.status, Status::Unset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_answer_and_a_refused_connection_are_client_errors() {
    let callee = start_callee().await;
    let caller = start_caller(callee).await;
    request_with_headers(
        caller,
        "GET",
        "/reqwest/404",
        &[("x-correlation-id", "hop-404")],
    )
    .await
    .unwrap();
    let refused = request_with_headers(
        caller,
        "GET",
        "/nowhere",
        &[("x-correlation-id", "hop-refused")],
    )
    .await
    .unwrap();
    assert_eq!(refused.body, "refused");
    obs().flush().unwrap();
    let spans = obs().recent_spans();

    let [_, client, _] = hop(&spans, "hop-404", "/reqwest/{code}");
    assert_eq!(
        attribute(client, "http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(attribute(client, "error.type").as_deref(), Some("404"));
    assert!(
        matches!(client.status, Status::Error { .. }),
        "{:?}",
        client.status
    );

    let caller_span = spans
        .iter()
        .find(|s| attribute(s, "correlation.id").as_deref() == Some("hop-refused"))
        .expect("the caller's span");
    let client = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Client
                && s.span_context.trace_id() == caller_span.span_context.trace_id()
        })
        .expect("a client span for the refused call");
    assert_eq!(attribute(client, "error.type").as_deref(), Some("connect"));
    assert!(matches!(client.status, Status::Error { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tower_layer_on_a_hyper_client_makes_the_same_hop() {
    let callee = start_callee().await;
    let caller = start_caller(callee).await;
    let response = request_with_headers(
        caller,
        "GET",
        "/tower",
        &[("x-correlation-id", "hop-tower")],
    )
    .await
    .unwrap();
    assert_eq!(response.body, "200 OK");
    obs().flush().unwrap();
    let spans = obs().recent_spans();
    let [caller_span, client, callee_span] = hop(&spans, "hop-tower", "/tower");
    assert_eq!(client.parent_span_id, caller_span.span_context.span_id());
    assert_eq!(callee_span.parent_span_id, client.span_context.span_id());
    assert_eq!(
        attribute(callee_span, "correlation.id").as_deref(),
        Some("hop-tower"),
        "the correlation ID travelled with the call"
    );
    assert_eq!(
        attribute(client, "http.response.status_code").as_deref(),
        Some("200")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_api_instrumentation_continues_the_request_trace() {
    let callee = start_callee().await;
    let caller = start_caller(callee).await;
    let response = request_with_headers(
        caller,
        "GET",
        "/otel-api",
        &[("x-correlation-id", "otel-api")],
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    obs().flush().unwrap();
    let spans = obs().recent_spans();
    let server = spans
        .iter()
        .find(|s| attribute(s, "correlation.id").as_deref() == Some("otel-api"))
        .expect("the server span");
    // The global propagator injected the server span's context.
    assert_eq!(
        response.body,
        format!(
            "00-{}-{}-01",
            server.span_context.trace_id(),
            server.span_context.span_id()
        )
    );
    // The global tracer's span went through teei-obs's pipeline, as the server span's child.
    let raw = spans
        .iter()
        .find(|s| s.name == "raw-otel-span")
        .expect("the OpenTelemetry-API span was exported");
    assert_eq!(raw.span_context.trace_id(), server.span_context.trace_id());
    assert_eq!(raw.parent_span_id, server.span_context.span_id());
    assert!(!raw.parent_span_is_remote);
}

#[test]
fn opentelemetry_api_spans_are_redacted_like_teei_obs_own() {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{
        Span as _, SpanContext, SpanId, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
    };
    obs();
    let tracer = opentelemetry::global::tracer_provider().tracer("third-party");
    let mut span = tracer
        .span_builder("otel-api-secrets")
        .with_attributes([
            KeyValue::new("password", "hunter2-attribute"),
            KeyValue::new("note", "mail ada.attribute@example.com"),
        ])
        .start(&tracer);
    span.add_event(
        "signed in as ada.event@example.com",
        vec![
            KeyValue::new("authorization", "Bearer event-token-value"),
            KeyValue::new("card", "paid with 4111 1111 1111 1111"),
        ],
    );
    let linked = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    span.add_link(
        linked,
        vec![
            KeyValue::new("api_key", "link-secret-value"),
            KeyValue::new("from", "ada.link@example.com"),
        ],
    );
    span.set_status(Status::error(
        "sign-in failed for ada.status@example.com with password=hunter2-status",
    ));
    span.end();
    // A name built at run time is redacted too; a static one is the instrumentation's own.
    let mut named = tracer.start("reset for ada.name@example.com".to_string());
    named.end();
    obs().flush().unwrap();

    let spans = obs().recent_spans();
    assert!(
        spans.iter().any(|s| s.name == "reset for [REDACTED:email]"),
        "{spans:#?}"
    );
    assert!(!format!("{spans:?}").contains("ada.name@"));
    let exported = spans
        .iter()
        .find(|s| s.name == "otel-api-secrets")
        .expect("the OpenTelemetry-API span was exported");
    let text = format!("{exported:?}");
    for secret in [
        "hunter2",
        "ada.attribute@",
        "ada.event@",
        "event-token-value",
        "4111 1111",
        "link-secret-value",
        "ada.link@",
        "ada.status@",
    ] {
        assert!(!text.contains(secret), "{secret} was exported: {text}");
    }
    // Redacted, not dropped: the event, the link and the status are all still there.
    assert_eq!(exported.events.len(), 1);
    assert_eq!(exported.events[0].name, "signed in as [REDACTED:email]");
    assert_eq!(exported.links.len(), 1);
    assert!(
        matches!(&exported.status, Status::Error { description } if description.contains("[REDACTED"))
    );
}
