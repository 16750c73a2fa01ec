//! The sinks as layers on a standard `Registry`, next to other layers, and the filters:
//! what is logged (`RUST_LOG`, the full `EnvFilter` syntax) and what is traced decided
//! apart; the `log` crate's records in the same lines.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use opentelemetry::trace::SpanKind;
use teei_obs::config::TraceExport;
use teei_obs::log::LogFormat;
use teei_obs::trace::Sampler;
use teei_obs::traced;
use teei_obs_tests::sentry_endpoint;
use teei_obs_tests::{request_with_headers, serve};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;

/// A `fmt` writer into a buffer the test reads.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[traced(err)]
async fn settle(invoice: u32) -> Result<(), String> {
    tracing::info!(invoice, "settling");
    Err(format!("invoice {invoice} was already settled"))
}

async fn handler() -> &'static str {
    match settle(9).await {
        Ok(()) => "settled",
        Err(_) => "conflict",
    }
}

fn json_lines(obs: &teei_obs::Obs, correlation: &str) -> Vec<serde_json::Value> {
    obs.recent_logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["correlationId"] == correlation)
        .collect()
}

#[test]
fn a_registry_with_fmt_and_teei_obs_layers_gets_every_sink_for_one_request() {
    let (dsn, envelopes) = sentry_endpoint::start();
    let obs = teei_obs::init(
        teei_obs::Config::new("composed")
            .install_subscriber(false)
            .sampler(Sampler::AlwaysOn)
            .log_format(LogFormat::Json)
            .capture_logs(true)
            .trace_export(TraceExport::Memory)
            .sentry_dsn(&dsn)
            .unwrap(),
    )
    .unwrap();
    let fmt_output = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(obs.layers()).with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(fmt_output.clone()),
    );
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let response = runtime.block_on(async {
        let addr = serve(
            axum::Router::new()
                .route("/settle", get(handler))
                .layer(obs.request_layer()),
        )
        .await;
        request_with_headers(
            addr,
            "GET",
            "/settle",
            &[("x-correlation-id", "composed-1")],
        )
        .await
        .unwrap()
    });
    assert_eq!(response.body, "conflict");

    // teei-obs's JSON line, with the request's IDs.
    let lines = json_lines(&obs, "composed-1");
    let settling = lines
        .iter()
        .find(|l| l["msg"] == "settling")
        .unwrap_or_else(|| panic!("no teei line: {lines:#?}"));
    let trace_id = settling["traceId"].as_str().expect("a trace id").to_owned();
    assert_eq!(trace_id.len(), 32);
    assert_eq!(settling["invoice"], 9);

    // The fmt layer's line for the same event.
    let fmt_text = fmt_output.text();
    assert!(
        fmt_text
            .lines()
            .any(|l| l.contains("INFO") && l.contains("settling")),
        "{fmt_text}"
    );

    // The exported spans of the request, in that trace.
    obs.flush().unwrap();
    let spans = obs.recent_spans();
    let server = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server && s.span_context.trace_id().to_string() == trace_id
        })
        .unwrap_or_else(|| panic!("no server span in {trace_id}: {spans:#?}"));
    let settle_span = spans
        .iter()
        .find(|s| s.name == "settle" && s.span_context.trace_id().to_string() == trace_id)
        .expect("the traced function's span");
    assert_eq!(settle_span.parent_span_id, server.span_context.span_id());

    // And the Sentry event of the error.
    assert!(obs.flush_errors(Duration::from_secs(5)));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let event = loop {
        let found = envelopes.events().into_iter().find(|e| {
            e["tags"]["trace_id"] == trace_id.as_str()
                || e["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t[1] == trace_id.as_str()))
        });
        match found {
            Some(event) => break event,
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            None => panic!("no Sentry event for {trace_id}: {:#?}", envelopes.events()),
        }
    };
    assert!(event.to_string().contains("already settled"), "{event}");
}

#[traced(kind = "server")]
async fn checkout() -> &'static str {
    tracing::info!("an info line");
    tracing::warn!("a warning");
    pay().await
}

#[traced]
async fn pay() -> &'static str {
    "paid"
}

/// `RUST_LOG=warn`: the INFO event is not logged, the WARN one is, and the spans of the
/// request are exported whole — on both wirings.
#[test]
fn rust_log_warn_keeps_traces_whole_on_both_wirings() {
    let obs = teei_obs::init(
        teei_obs::Config::from_lookup(|name| (name == "RUST_LOG").then(|| "warn".to_owned()))
            .unwrap()
            .service_name("warn-only")
            .install_subscriber(false)
            .sampler(Sampler::AlwaysOn)
            .log_format(LogFormat::Json)
            .capture_logs(true)
            .trace_export(TraceExport::Memory),
    )
    .unwrap();
    for wiring in teei_obs_tests::Wiring::BOTH {
        let correlation = format!("warn-{wiring:?}");
        let response = wiring.run(&obs, async {
            let addr = serve(
                axum::Router::new()
                    .route("/checkout", get(checkout))
                    .layer(obs.request_layer()),
            )
            .await;
            request_with_headers(
                addr,
                "GET",
                "/checkout",
                &[("x-correlation-id", &correlation)],
            )
            .await
            .unwrap()
        });
        assert_eq!(response.body, "paid", "{wiring:?}");
        let lines = json_lines(&obs, &correlation);
        assert!(
            lines.iter().all(|l| l["msg"] != "an info line"),
            "{wiring:?}: an INFO line at RUST_LOG=warn: {lines:#?}"
        );
        let warning = lines
            .iter()
            .find(|l| l["msg"] == "a warning")
            .unwrap_or_else(|| panic!("{wiring:?}: no WARN line: {lines:#?}"));
        let trace_id = warning["traceId"]
            .as_str()
            .unwrap_or_else(|| panic!("{wiring:?}: no trace id: {warning}"))
            .to_owned();

        obs.flush().unwrap();
        let spans = obs.recent_spans();
        let in_trace: Vec<_> = spans
            .iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace_id)
            .collect();
        let names: Vec<_> = in_trace.iter().map(|s| s.name.to_string()).collect();
        for name in ["GET /checkout", "checkout", "pay"] {
            assert!(names.contains(&name.to_owned()), "{wiring:?}: {names:?}");
        }
        // The INFO event is still part of the trace: an event of its span.
        let checkout_span = in_trace.iter().find(|s| s.name == "checkout").unwrap();
        assert!(
            checkout_span
                .events
                .iter()
                .any(|e| e.name == "an info line"),
            "{wiring:?}: {:?}",
            checkout_span.events
        );
    }
}

#[traced(fields(id))]
fn handle(id: u32) {
    tracing::debug!(id, "inside handle");
}

#[test]
fn span_field_directives_filter_as_env_filter_does() {
    let directives = format!("warn,{}[handle{{id=7}}]=debug", module_path!());
    let obs = teei_obs::init(
        teei_obs::Config::from_lookup(|name| (name == "RUST_LOG").then(|| directives.clone()))
            .unwrap()
            .service_name("env-filter")
            .install_subscriber(false)
            .log_format(LogFormat::Json)
            .capture_logs(true)
            .trace_export(TraceExport::None),
    )
    .unwrap();
    // The reference: EnvFilter itself, in front of fmt.
    let reference = Buffer::default();
    let env_filter = tracing_subscriber::EnvFilter::new(&directives);
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(reference.clone())
                .with_filter(env_filter),
        ),
        || {
            handle(7);
            handle(8);
        },
    );
    tracing::subscriber::with_default(obs.subscriber(), || {
        handle(7);
        handle(8);
    });
    let expected: Vec<_> = reference
        .text()
        .lines()
        .filter(|l| l.contains("inside handle"))
        .map(|l| l.contains("id=7"))
        .collect();
    assert_eq!(expected, [true], "EnvFilter lets id=7 through only");
    let ours: Vec<_> = obs
        .recent_logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["msg"] == "inside handle")
        .map(|l| l["id"].clone())
        .collect();
    assert_eq!(ours, [serde_json::json!(7)]);
}

#[test]
fn an_invalid_directive_fails_init_naming_rust_log() {
    let error =
        teei_obs::Config::from_lookup(|name| (name == "RUST_LOG").then(|| "[[[".to_owned()))
            .unwrap_err()
            .to_string();
    assert!(error.contains("RUST_LOG"), "{error}");
    let error = teei_obs::Config::from_lookup(|name| {
        (name == "OTEL_TRACES_FILTER").then(|| "x=loud".to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("OTEL_TRACES_FILTER"), "{error}");
}

#[test]
fn an_invalid_directive_given_to_the_builder_fails_init_itself() {
    let error = teei_obs::init(
        teei_obs::Config::new("bad-filter")
            .install_subscriber(false)
            .log_filter("[[["),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("RUST_LOG"), "{error}");
}
