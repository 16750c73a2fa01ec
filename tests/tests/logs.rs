//! JSON log lines of a request through two annotated functions, and the secret corpus
//! through log lines and exported span names and attributes.

use std::sync::OnceLock;
use std::time::Duration;

use axum::routing::get;
use teei_obs::config::{Protocol, TraceExport};
use teei_obs::log::LogFormat;
use teei_obs::trace::Sampler;
use teei_obs::traced;
use teei_obs_tests::corpus::{SECRET_KEYS, SECRET_VALUES};
use teei_obs_tests::otlp::{free_port, grpc_receiver, string_value};
use teei_obs_tests::{Wiring, request_with_headers, serve};

fn obs() -> &'static teei_obs::Obs {
    static OBS: OnceLock<teei_obs::Obs> = OnceLock::new();
    OBS.get_or_init(|| {
        teei_obs::init(
            teei_obs::Config::new("unified-profile")
                .service_version("1.0.0")
                .environment("production")
                .sampler(Sampler::AlwaysOn)
                .log_format(LogFormat::Json)
                .capture_logs(true)
                .trace_export(TraceExport::Memory),
        )
        .expect("init")
    })
}

#[traced(kind = "server", fields(order.id = id))]
async fn load_order(id: u32) -> String {
    tracing::info!(userId = "u-1", "loading order");
    price(id).await
}

#[traced(fields(currency = "EUR"))]
async fn price(id: u32) -> String {
    tracing::info!(
        email = "jane.doe@example.com",
        password = "hunter2",
        note = "card 4111 1111 1111 1111 on file",
        "priced order"
    );
    teei_obs::log::query("SELECT", "orders", 3, 1);
    format!("order {id}")
}

fn lines_with(correlation: &str) -> Vec<serde_json::Value> {
    teei_obs_tests::json_lines_with(obs(), correlation)
}

/// One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
#[test]
fn a_requests_log_lines_share_its_ids_carry_span_fields_and_hide_secrets() {
    for wiring in Wiring::BOTH {
        let correlation = format!("req-42-{wiring:?}");
        wiring.run(obs(), request_lines(&correlation));
        check_request_lines(wiring, &correlation);
    }
}

async fn request_lines(correlation: &str) {
    let router = axum::Router::new()
        .route(
            "/orders/{id}",
            get(|axum::extract::Path(id): axum::extract::Path<u32>| load_order(id)),
        )
        .layer(obs().request_layer());
    let addr = serve(router).await;
    let response = request_with_headers(
        addr,
        "GET",
        "/orders/7",
        &[("x-correlation-id", correlation)],
    )
    .await
    .unwrap();
    assert_eq!(response.body, "order 7");
}

fn check_request_lines(wiring: Wiring, correlation: &str) {
    let lines = lines_with(correlation);
    assert_eq!(lines.len(), 3, "{wiring:?}: {lines:#?}");
    let trace_id = lines[0]["traceId"].as_str().unwrap().to_owned();
    assert_eq!(trace_id.len(), 32);
    for line in &lines {
        for field in [
            "level",
            "time",
            "service",
            "environment",
            "version",
            "correlationId",
            "traceId",
            "spanId",
            "msg",
        ] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
        assert_eq!(line["traceId"], trace_id.as_str(), "one trace: {line}");
        assert_eq!(line["service"], "unified-profile");
        assert_eq!(line["environment"], "production");
        assert_eq!(line["version"], "1.0.0");
        assert_eq!(line["level"], "info");
        assert_eq!(line["order.id"], 7, "the enclosing span's field: {line}");
    }
    let priced = lines.iter().find(|l| l["msg"] == "priced order").unwrap();
    assert_eq!(priced["currency"], "EUR");
    assert_eq!(priced["password"], "[REDACTED]");
    assert_eq!(priced["email"], "[REDACTED:email]");
    assert_eq!(priced["note"], "card [REDACTED:card] on file");
    let query = lines.iter().find(|l| l["type"] == "db.query").unwrap();
    assert_eq!(
        (query["operation"].as_str(), query["table"].as_str()),
        (Some("SELECT"), Some("orders"))
    );
    assert!(
        !obs()
            .recent_logs()
            .iter()
            .any(|l| l.contains("hunter2") || l.contains("jane.doe"))
    );
    // The spans of the same trace, from the same wiring.
    obs().flush().unwrap();
    let spans: Vec<_> = obs()
        .recent_spans()
        .into_iter()
        .filter(|s| s.span_context.trace_id().to_string() == trace_id)
        .collect();
    let load = spans.iter().find(|s| s.name == "load_order");
    let price = spans.iter().find(|s| s.name == "price");
    match (load, price) {
        (Some(load), Some(price)) => {
            assert_eq!(
                price.parent_span_id,
                load.span_context.span_id(),
                "{wiring:?}"
            )
        }
        _ => panic!("{wiring:?}: spans of {trace_id}: {spans:#?}"),
    }
}

#[test]
fn pretty_lines_escape_control_characters_so_input_cannot_forge_lines() {
    let pretty = teei_obs::init(
        teei_obs::Config::new("pretty")
            .install_subscriber(false)
            .log_format(LogFormat::Pretty)
            .capture_logs(true),
    )
    .unwrap();
    for wiring in Wiring::BOTH {
        tracing::dispatcher::with_default(&wiring.dispatch(&pretty), || {
            let input = "ok\n2026-01-01T00:00:00.000Z  INFO forged: admin logged in";
            tracing::warn!(user = input, "login failed for {input}");
        });
    }
    let lines = pretty.recent_logs();
    assert_eq!(lines.len(), 2, "one line per wiring");
    for line in &lines {
        assert!(!line.contains('\n'));
        assert!(line.contains("ok\\n2026"), "{line}");
    }
}

#[traced(fields(payload = tracing::field::Empty))]
fn carry_secret(key: &str, value: &str) {
    tracing::Span::current().record("payload", format!("{key}={value}"));
    tracing::info!(secret_field = value, "carrying");
}

/// One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_corpus_leaks_into_neither_logs_nor_exported_spans() {
    for wiring in Wiring::BOTH {
        corpus_through(wiring).await;
    }
}

async fn corpus_through(wiring: Wiring) {
    let addr = free_port();
    let received = grpc_receiver(addr).await;
    let exporting = teei_obs::init(
        teei_obs::Config::new("leak-test")
            .install_subscriber(false)
            .sampler(Sampler::AlwaysOn)
            .capture_logs(true)
            .log_format(LogFormat::Json)
            .export_interval(Duration::from_millis(50))
            .trace_export(TraceExport::Otlp {
                endpoint: format!("http://{addr}"),
                protocol: Protocol::Grpc,
            }),
    )
    .unwrap();
    let secrets: Vec<String> = SECRET_VALUES.iter().map(|(_, v)| (*v).to_owned()).collect();
    tracing::dispatcher::with_default(&wiring.dispatch(&exporting), || {
        for key in SECRET_KEYS {
            // A span attribute and a log field under each sensitive key.
            let span = tracing::info_span!("keyed", attribute = tracing::field::Empty);
            let _entered = span.enter();
            tracing::info!(key = *key, "{}", format!("{key} follows"));
            let mut object = serde_json::Map::new();
            object.insert((*key).to_owned(), serde_json::Value::from("s3cr3t-value"));
            tracing::info!(nested = %serde_json::Value::Object(object), "nested");
        }
        for secret in &secrets {
            carry_secret("note", secret);
            // A span named at run time, the way `tracing-opentelemetry` users do.
            drop(tracing::info_span!("named", otel.name = %format_args!("reset for {secret}")));
        }
    });
    exporting.flush().unwrap();
    let spans = received
        .wait_for(Duration::from_secs(10), |spans| {
            let count =
                |wanted: fn(&str) -> bool| spans.iter().filter(|s| wanted(&s.span.name)).count();
            count(|name| name == "carry_secret") == secrets.len()
                && count(|name| name.starts_with("reset for ")) == secrets.len()
        })
        .await;
    let mut exported = String::new();
    for span in &spans {
        exported.push_str(&span.span.name);
        for kv in &span.span.attributes {
            exported.push_str(&string_value(kv.value.as_ref()));
        }
        for event in &span.span.events {
            exported.push_str(&event.name);
            for kv in &event.attributes {
                exported.push_str(&string_value(kv.value.as_ref()));
            }
        }
    }
    let logs = exporting.recent_logs().join("\n");
    for secret in &secrets {
        assert!(
            !exported.contains(secret.as_str()),
            "{wiring:?}: span names or attributes leak {secret}"
        );
        assert!(
            !logs.contains(secret.as_str()),
            "{wiring:?}: logs leak {secret}"
        );
    }
    assert!(!logs.contains("s3cr3t-value"), "{logs}");
    assert!(
        exported.contains("[REDACTED:"),
        "the redacted forms are there"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.span.name.starts_with("reset for [REDACTED")),
        "{wiring:?}: a run-time span name is redacted, not dropped"
    );
    exporting.shutdown().unwrap();
}
