//! Trace context and correlation IDs across services: two services over HTTP on loopback,
//! a message through headers, and hostile or malformed input.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::routing::get;
use teei_obs::config::TraceExport;
use teei_obs::trace::{self, MessageHeaders, RequestContext, Sampler, SpanData};
use teei_obs::traced;
use teei_obs_tests::{request_with_headers, serve};

fn obs() -> &'static teei_obs::Obs {
    static OBS: OnceLock<teei_obs::Obs> = OnceLock::new();
    OBS.get_or_init(|| {
        teei_obs::init(
            teei_obs::Config::new("propagation")
                .sampler(Sampler::AlwaysOn)
                .memory_capacity(10_000)
                .trace_export(TraceExport::Memory),
        )
        .expect("init")
    })
}

fn spans() -> Vec<SpanData> {
    obs().recent_spans()
}

// --- service B --------------------------------------------------------------------------

#[traced]
async fn b_work() -> String {
    let correlation = trace::correlation_id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    format!("b saw correlation {correlation}")
}

async fn start_b() -> SocketAddr {
    let router = axum::Router::new()
        .route("/work", get(b_work))
        .layer(obs().request_layer());
    serve(router).await
}

// --- service A --------------------------------------------------------------------------

#[traced(kind = "client")]
async fn call_b(b: SocketAddr) -> String {
    let mut headers = axum::http::HeaderMap::new();
    trace::inject_http(&mut headers);
    let sent: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let sent: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    teei_obs_tests::request_with_headers(b, "GET", "/work", &sent)
        .await
        .map(|response| response.body)
        .unwrap_or_else(|error| format!("b failed: {error}"))
}

async fn start_a(b: SocketAddr) -> SocketAddr {
    let router = axum::Router::new()
        .route("/start", get(move || call_b(b)))
        .layer(obs().request_layer());
    serve(router).await
}

fn span<'a>(spans: &'a [SpanData], name: &str, trace_id: Option<&str>) -> &'a SpanData {
    spans
        .iter()
        .find(|s| {
            s.name == name && trace_id.is_none_or(|t| s.span_context.trace_id().to_string() == t)
        })
        .unwrap_or_else(|| panic!("no span {name}"))
}

/// One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
#[test]
fn one_trace_spans_two_services_and_the_correlation_id_goes_there_and_back() {
    for wiring in teei_obs_tests::Wiring::BOTH {
        let correlation = format!("checkout-{wiring:?}");
        wiring.run(obs(), two_services(&correlation));
    }
}

async fn two_services(correlation: &str) {
    let b = start_b().await;
    let a = start_a(b).await;
    let response = request_with_headers(a, "GET", "/start", &[("x-correlation-id", correlation)])
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-correlation-id"), Some(correlation));
    assert_eq!(response.body, format!("b saw correlation {correlation}"));

    obs().flush().unwrap();
    let spans = spans();
    let client = spans
        .iter()
        .find(|s| {
            s.name == "call_b"
                && s.attributes.iter().any(|kv| {
                    kv.key.as_str() == "correlation.id" && kv.value.to_string() == correlation
                })
        })
        .unwrap_or_else(|| panic!("no call_b span for {correlation}"));
    let trace_id = client.span_context.trace_id().to_string();
    let b_work = span(&spans, "b_work", Some(&trace_id));
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| {
            s.span_kind == opentelemetry::trace::SpanKind::Server
                && s.span_context.trace_id().to_string() == trace_id
        })
        .collect();
    assert_eq!(servers.len(), 2, "A's and B's server spans share the trace");
    let names: Vec<_> = servers.iter().map(|s| s.name.to_string()).collect();
    assert!(
        names.contains(&"GET /start".to_owned()) && names.contains(&"GET /work".to_owned()),
        "{names:?}"
    );
    let b_server = servers
        .iter()
        .find(|s| s.parent_span_id == client.span_context.span_id())
        .expect("B's server span is a child of A's client span");
    assert!(b_server.parent_span_is_remote);
    assert_eq!(b_work.parent_span_id, b_server.span_context.span_id());
    let recorded = b_server
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "correlation.id")
        .map(|kv| kv.value.to_string());
    assert_eq!(recorded.as_deref(), Some(correlation));
    // The attributes the OpenTelemetry HTTP semantic conventions ask of a server span.
    let attribute = |key: &str| {
        b_server
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attribute("http.request.method").as_deref(), Some("GET"));
    assert_eq!(attribute("http.route").as_deref(), Some("/work"));
    assert_eq!(attribute("url.path").as_deref(), Some("/work"));
    assert_eq!(attribute("url.scheme").as_deref(), Some("http"));
    assert_eq!(
        attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attribute("error.type"),
        None,
        "only 5xx answers carry error.type"
    );
}

// --- a message bus ----------------------------------------------------------------------

#[traced(kind = "producer")]
fn publish() -> MessageHeaders {
    let mut headers = MessageHeaders::default();
    trace::inject(&mut headers);
    headers
}

#[traced(kind = "consumer")]
async fn consume() -> Option<String> {
    trace::correlation_id().map(|id| id.to_string())
}

#[tokio::test]
async fn a_message_continues_the_trace_and_the_correlation_id_of_its_producer() {
    obs();
    let mut origin = MessageHeaders::default();
    origin.insert("x-correlation-id", "import-77");
    let headers = RequestContext::extract(&origin).in_scope(publish);
    assert_eq!(headers.get("x-correlation-id"), Some("import-77"));
    assert!(headers.get("traceparent").is_some());

    // Elsewhere: a consumer task handles the message.
    let received = headers.clone();
    let seen =
        tokio::spawn(async move { RequestContext::extract(&received).scope(consume()).await })
            .await
            .unwrap();
    assert_eq!(seen.as_deref(), Some("import-77"));

    let spans = spans();
    let producer = spans
        .iter()
        .find(|s| s.name == "publish")
        .expect("producer span");
    let consumer = span(
        &spans,
        "consume",
        Some(&producer.span_context.trace_id().to_string()),
    );
    assert_eq!(consumer.parent_span_id, producer.span_context.span_id());
    assert_eq!(consumer.span_kind, opentelemetry::trace::SpanKind::Consumer);
}

// --- malformed and hostile input --------------------------------------------------------

const VALID_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[test]
fn malformed_traceparent_values_start_a_fresh_valid_trace() {
    obs();
    let long = "0".repeat(10_000);
    let malformed: Vec<String> = vec![
        String::new(),
        "garbage".into(),
        format!("00-{VALID_TRACE}-00f067aa0ba902b7"),
        format!("ff-{VALID_TRACE}-00f067aa0ba902b7-01"),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
        format!("00-{VALID_TRACE}-0000000000000000-01"),
        format!("00-{}-00f067aa0ba902b7-01", VALID_TRACE.to_uppercase()),
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01".into(),
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01".into(),
        format!("00-{VALID_TRACE}-00f067aa0ba902b-01"),
        format!("00-{VALID_TRACE}-00f067aa0ba902b77-01"),
        format!("00-{VALID_TRACE}-00f067aa0ba902b7-1"),
        format!("00-{VALID_TRACE}-00f067aa0ba902b7-0g"),
        format!("0g-{VALID_TRACE}-00f067aa0ba902b7-01"),
        format!("0-{VALID_TRACE}-00f067aa0ba902b7-01"),
        format!("00-{VALID_TRACE}-00f067aa0ba902b7-01-extra"),
        format!("00_{VALID_TRACE}_00f067aa0ba902b7_01"),
        "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01".into(),
        format!("00-{VALID_TRACE}-00f067aa0ba902b7-01\u{0}"),
        format!("00-{VALID_TRACE}\u{202e}-00f067aa0ba902b7-01"),
        long,
    ];
    assert!(malformed.len() >= 15);
    for value in &malformed {
        let mut headers = MessageHeaders::default();
        headers.insert("traceparent", value.clone());
        let context = RequestContext::extract(&headers);
        assert_eq!(context.trace_id(), None, "{value:?} must not be accepted");
        let headers = context.in_scope(publish);
        let sent = headers
            .get("traceparent")
            .expect("a fresh context is propagated");
        let parts: Vec<&str> = sent.split('-').collect();
        assert_eq!(parts.len(), 4, "{sent}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1].len(), 32);
        assert_ne!(parts[1], VALID_TRACE, "{value:?} leaked its trace ID");
        assert_ne!(parts[1], "0".repeat(32));
    }
}

#[test]
fn traceparent_versions_above_zero_are_parsed_as_the_spec_says() {
    let mut headers = MessageHeaders::default();
    headers.insert(
        "traceparent",
        format!("01-{VALID_TRACE}-00f067aa0ba902b7-01-what-the-future-will-be-like"),
    );
    assert_eq!(
        RequestContext::extract(&headers).trace_id().as_deref(),
        Some(VALID_TRACE)
    );
}

#[test]
fn hostile_correlation_ids_are_replaced_by_fresh_valid_ones() {
    let hostile = [
        "x".repeat(129),
        "x".repeat(100_000),
        "abc\r\nSet-Cookie: session=1".to_owned(),
        "tab\there".to_owned(),
        "null\u{0}byte".to_owned(),
        "ünïcødé".to_owned(),
        "<script>alert(1)</script>".to_owned(),
        "spaces are not allowed".to_owned(),
        String::new(),
    ];
    for value in &hostile {
        let mut headers = MessageHeaders::default();
        headers.insert("x-correlation-id", value.clone());
        headers.insert("x-causation-id", value.clone());
        let context = RequestContext::extract(&headers);
        assert_ne!(context.correlation_id(), value.as_str());
        assert!(trace::is_valid_id(context.correlation_id()));
        assert_eq!(context.correlation_id().len(), 36, "a generated UUID");
        assert_eq!(context.causation_id(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_headers_over_http_never_come_back_unchanged() {
    let b = start_b().await;
    let long = "y".repeat(300);
    let cases: [(&str, &str); 4] = [
        ("x-correlation-id", long.as_str()),
        ("x-correlation-id", "ünïcødé"),
        ("x-correlation-id", "<script>alert(1)</script>"),
        (
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    ];
    for (name, value) in cases {
        let response = request_with_headers(b, "GET", "/work", &[(name, value)])
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{name}: {value}");
        let returned = response
            .header("x-correlation-id")
            .expect("always returned");
        assert_ne!(returned, value);
        assert!(trace::is_valid_id(returned), "{returned}");
        assert!(
            response.body.ends_with(returned),
            "the handler saw the replacement"
        );
    }
}

#[test]
fn tracestate_is_kept_within_the_w3c_limit_and_discarded_beyond_it() {
    let traceparent = format!("00-{VALID_TRACE}-00f067aa0ba902b7-01");
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("v{i}=x"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut kept = MessageHeaders::default();
    kept.insert("traceparent", traceparent.clone());
    kept.insert("tracestate", members(32));
    let context = RequestContext::extract(&kept);
    assert_eq!(
        context.trace_state().map(|s| s.split(',').count()),
        Some(32)
    );
    // Continued spans carry it onward.
    let sent = context.in_scope(publish);
    assert_eq!(
        sent.get("tracestate").map(|s| s.split(',').count()),
        Some(32)
    );

    let mut too_many = MessageHeaders::default();
    too_many.insert("traceparent", traceparent);
    too_many.insert("tracestate", members(33));
    let context = RequestContext::extract(&too_many);
    assert_eq!(
        context.trace_id().as_deref(),
        Some(VALID_TRACE),
        "traceparent still counts"
    );
    assert_eq!(context.trace_state(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_answer_marks_the_server_span_as_an_error_with_its_status() {
    let router = axum::Router::new()
        .route(
            "/broken/{id}",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .layer(obs().request_layer());
    let addr = serve(router).await;
    let response =
        request_with_headers(addr, "GET", "/broken/7", &[("x-correlation-id", "err-503")])
            .await
            .unwrap();
    assert_eq!(response.status, 503);
    obs().flush().unwrap();
    let spans = spans();
    let server = spans
        .iter()
        .find(|s| {
            s.name == "GET /broken/{id}"
                && s.attributes.iter().any(|kv| {
                    kv.key.as_str() == "correlation.id" && kv.value.to_string() == "err-503"
                })
        })
        .expect("the server span");
    let attribute = |key: &str| {
        server
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attribute("error.type").as_deref(), Some("503"));
    assert_eq!(
        attribute("http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(attribute("url.path").as_deref(), Some("/broken/7"));
    assert!(
        matches!(&server.status, opentelemetry::trace::Status::Error { description } if description == "503"),
        "{:?}",
        server.status
    );
}
