//! Records of the `log` crate (what reqwest, rustls and tokio-postgres write) reach the
//! same JSON lines as `tracing` events, with the request's correlation and trace IDs. Its
//! own test binary: the `log` crate takes one logger per process.

use axum::routing::get;
use teei_obs::config::TraceExport;
use teei_obs::log::LogFormat;
use teei_obs::trace::Sampler;
use teei_obs_tests::{request_with_headers, serve};

async fn handler() -> &'static str {
    log::warn!(target: "some_library", "retrying the upstream call");
    log::debug!(target: "some_library", "below the filter");
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_crate_warning_in_a_handler_is_a_json_line_with_the_request_ids() {
    let obs = teei_obs::init(
        teei_obs::Config::new("bridged")
            .sampler(Sampler::AlwaysOn)
            .log_format(LogFormat::Json)
            .capture_logs(true)
            .trace_export(TraceExport::Memory),
    )
    .unwrap();
    assert!(obs.subscriber_installed());
    let addr = serve(
        axum::Router::new()
            .route("/retry", get(handler))
            .layer(obs.request_layer()),
    )
    .await;
    let response = request_with_headers(addr, "GET", "/retry", &[("x-correlation-id", "log-1")])
        .await
        .unwrap();
    assert_eq!(response.body, "ok");

    let lines: Vec<serde_json::Value> = obs
        .recent_logs()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let line = lines
        .iter()
        .find(|l| l["msg"] == "retrying the upstream call")
        .unwrap_or_else(|| panic!("no line from the log crate: {lines:#?}"));
    assert_eq!(line["level"], "warn");
    assert_eq!(line["target"], "some_library", "the record's own target");
    assert_eq!(line["correlationId"], "log-1");
    assert!(
        line["traceId"].as_str().is_some_and(|t| t.len() == 32),
        "{line}"
    );
    assert!(
        line.get("log.target").is_none(),
        "bridge fields stay out: {line}"
    );
    assert!(
        !lines.iter().any(|l| l["msg"] == "below the filter"),
        "a DEBUG record at the default `info`"
    );
    obs.flush().unwrap();
    let server = obs
        .recent_spans()
        .into_iter()
        .find(|s| s.name == "GET /retry")
        .expect("the request's span");
    assert_eq!(line["traceId"], server.span_context.trace_id().to_string());
}
