//! Requests the sampler drops: under `init`'s fast subscriber they get no `tracing` span at
//! all (the cheap path), and must still look the same from outside as under a `Registry`
//! with the layers, where the span exists — log lines with the server span's IDs and
//! fields, children and outgoing calls in its trace, nothing exported — while a sampled
//! request is recorded and the sampling ratio holds for the requests themselves.

use std::sync::OnceLock;

use axum::routing::get;
use teei_obs::config::TraceExport;
use teei_obs::log::LogFormat;
use teei_obs::trace::{Root, Sampler};
use teei_obs::traced;
use teei_obs_tests::{Wiring, request_with_headers, serve};

/// Roots are dropped; a remote parent's decision is followed.
fn obs() -> &'static teei_obs::Obs {
    static OBS: OnceLock<teei_obs::Obs> = OnceLock::new();
    OBS.get_or_init(|| {
        teei_obs::init(
            teei_obs::Config::new("unsampled")
                .environment("production")
                .install_subscriber(false)
                .sampler(Sampler::ParentBased(Root::AlwaysOff))
                .log_format(LogFormat::Json)
                .capture_logs(true)
                .trace_export(TraceExport::Memory),
        )
        .expect("init")
    })
}

#[traced]
async fn inner_work() {
    tracing::info!("inner");
}

/// Logs a line, runs a traced child that logs one, and answers with what an outgoing call
/// would carry: `traceparent` and `tracestate`. Instrumentation written against the
/// OpenTelemetry API must agree: the global propagator given `Context::current()` injects
/// the same `traceparent`, and a global tracer's span is in the same trace.
async fn handler() -> String {
    use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
    tracing::info!(note = "inside", "handling");
    inner_work().await;
    let mut headers = axum::http::HeaderMap::new();
    teei_obs::trace::inject_http(&mut headers);
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut otel = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&opentelemetry::Context::current(), &mut otel)
    });
    let traceparent = header("traceparent");
    assert_eq!(
        otel.get("traceparent"),
        Some(&traceparent),
        "the global propagator continues the request's trace"
    );
    let tracer = opentelemetry::global::tracer_provider().tracer("third-party");
    let otel_trace = tracer.in_span("raw-otel-span", |cx| {
        cx.span().span_context().trace_id().to_string()
    });
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(otel_trace.as_str()),
        "a global tracer's span is in the request's trace"
    );
    format!("{}\n{}", traceparent, header("tracestate"))
}

fn lines_with(correlation: &str) -> Vec<serde_json::Value> {
    teei_obs_tests::json_lines_with(obs(), correlation)
}

/// Sends one request to `/work/9` with `headers` (and a correlation ID); the handler's
/// body as (traceparent, tracestate).
async fn send(headers: &[(&str, &str)]) -> (String, String) {
    let router = axum::Router::new()
        .route("/work/{id}", get(handler))
        .layer(obs().request_layer());
    let addr = serve(router).await;
    let response = request_with_headers(addr, "GET", "/work/9", headers)
        .await
        .expect("request");
    assert_eq!(response.status, 200);
    let (traceparent, tracestate) = response.body.split_once('\n').expect("two lines");
    (traceparent.to_owned(), tracestate.to_owned())
}

/// The lines of an unsampled request: both in trace `trace_id`, the handler's in the
/// server span `server`, the child's in a span of its own; each with the server span's
/// fields, as a recorded span would give them.
fn check_lines(wiring: Wiring, correlation: &str, trace_id: &str, server: &str) {
    let lines = lines_with(correlation);
    assert_eq!(lines.len(), 2, "{wiring:?}: {lines:#?}");
    for line in &lines {
        assert_eq!(line["traceId"], trace_id, "{wiring:?}: {line}");
        assert_eq!(line["http.route"], "/work/{id}", "{wiring:?}: {line}");
        assert_eq!(line["url.path"], "/work/9", "{wiring:?}: {line}");
        assert_eq!(line["http.request.method"], "GET", "{wiring:?}: {line}");
        assert_eq!(line["url.scheme"], "http", "{wiring:?}: {line}");
    }
    let handling = lines.iter().find(|l| l["msg"] == "handling").unwrap();
    assert_eq!(handling["spanId"], server, "{wiring:?}: {handling}");
    assert_eq!(handling["note"], "inside");
    let inner = lines.iter().find(|l| l["msg"] == "inner").unwrap();
    let inner_span = inner["spanId"].as_str().expect("the child's span ID");
    assert_eq!(inner_span.len(), 16);
    assert_ne!(
        inner_span, server,
        "{wiring:?}: the child has a span of its own"
    );
}

fn exported_in(trace_id: &str) -> Vec<opentelemetry_sdk::trace::SpanData> {
    obs().flush().expect("flush");
    obs()
        .recent_spans()
        .into_iter()
        .filter(|span| span.span_context.trace_id().to_string() == trace_id)
        .collect()
}

#[test]
fn an_unsampled_root_request_logs_and_propagates_its_server_span_and_exports_nothing() {
    for wiring in Wiring::BOTH {
        let correlation = format!("unsampled-root-{wiring:?}");
        let (traceparent, tracestate) =
            wiring.run(obs(), send(&[("x-correlation-id", &correlation)]));
        // 00-<trace>-<the server span>-00: an outgoing call continues the request's trace
        // under its server span, unsampled.
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{wiring:?}: {traceparent:?}");
        assert_eq!((parts[0], parts[3]), ("00", "00"), "{wiring:?}");
        assert_eq!(tracestate, "");
        check_lines(wiring, &correlation, parts[1], parts[2]);
        assert!(exported_in(parts[1]).is_empty(), "{wiring:?}");
    }
}

#[test]
fn an_unsampled_remote_parent_is_continued_with_its_tracestate() {
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    for wiring in Wiring::BOTH {
        let correlation = format!("unsampled-remote-{wiring:?}");
        let remote = format!("00-{trace_id}-00f067aa0ba902b7-00");
        let (traceparent, tracestate) = wiring.run(
            obs(),
            send(&[
                ("x-correlation-id", &correlation),
                ("traceparent", &remote),
                ("tracestate", "vendor=opaque"),
            ]),
        );
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts[1], trace_id, "{wiring:?}: the caller's trace");
        assert_ne!(
            parts[2], "00f067aa0ba902b7",
            "{wiring:?}: a span of this service"
        );
        assert_eq!(parts[3], "00", "{wiring:?}");
        assert_eq!(tracestate, "vendor=opaque", "{wiring:?}");
        check_lines(wiring, &correlation, trace_id, parts[2]);
        assert!(exported_in(trace_id).is_empty(), "{wiring:?}");
    }
}

#[test]
fn a_sampled_remote_parent_gets_a_recorded_server_span() {
    for (wiring, trace_id) in Wiring::BOTH.into_iter().zip([
        "0af7651916cd43dd8448eb211c80319c",
        "0af7651916cd43dd8448eb211c80319d",
    ]) {
        let correlation = format!("sampled-remote-{wiring:?}");
        let remote = format!("00-{trace_id}-b7ad6b7169203331-01");
        let (traceparent, _) = wiring.run(
            obs(),
            send(&[("x-correlation-id", &correlation), ("traceparent", &remote)]),
        );
        let spans = exported_in(trace_id);
        let server = spans
            .iter()
            .find(|span| span.name == "GET /work/{id}")
            .unwrap_or_else(|| panic!("{wiring:?}: the server span in {spans:#?}"));
        assert_eq!(server.parent_span_id.to_string(), "b7ad6b7169203331");
        let server_id = server.span_context.span_id().to_string();
        assert_eq!(traceparent, format!("00-{trace_id}-{server_id}-01"));
        assert!(spans.iter().any(|span| span.name == "inner_work"));
        check_lines(wiring, &correlation, trace_id, &server_id);
    }
}

/// A request is sampled before its span exists; the span must keep the trace ID that
/// decision was made for, or half of a half would be recorded.
#[test]
fn half_of_four_hundred_root_requests_are_recorded_at_ratio_one_half() {
    let obs = teei_obs::init(
        teei_obs::Config::new("half")
            .install_subscriber(false)
            .log_filter("warn")
            .sampler(Sampler::ParentBased(Root::TraceIdRatio(0.5)))
            .memory_capacity(1_000)
            .trace_export(TraceExport::Memory),
    )
    .expect("init");
    Wiring::Fast.run(&obs, async {
        let router = axum::Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(obs.request_layer());
        let addr = serve(router).await;
        for _ in 0..400 {
            let response = teei_obs_tests::request(addr, "GET", "/").await.unwrap();
            assert_eq!(response.status, 200);
        }
    });
    obs.flush().expect("flush");
    let recorded = obs
        .recent_spans()
        .iter()
        .filter(|span| span.name == "GET /")
        .count();
    // Binomial(400, 0.5): mean 200, standard deviation 10; five deviations either way.
    assert!(
        (150..=250).contains(&recorded),
        "{recorded} of 400 requests recorded"
    );
}
