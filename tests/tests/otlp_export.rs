//! Spans reach a receiver speaking the real OTLP protocol, over gRPC and over HTTP, with
//! their names, parent links, kinds, attributes, status and resource.

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use teei_obs::config::{Protocol, TraceExport};
use teei_obs::trace::Sampler;
use teei_obs::traced;
use teei_obs_tests::Wiring;
use teei_obs_tests::otlp::{Received, attribute, free_port, grpc_receiver, http_receiver};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

#[traced(kind = "server", fields(order.id = id))]
fn checkout(id: u64) -> Result<(), Declined> {
    charge(id)
}

#[traced(kind = "client", err)]
fn charge(id: u64) -> Result<(), Declined> {
    if id.is_multiple_of(2) {
        Err(Declined)
    } else {
        Ok(())
    }
}

fn config(endpoint: String, protocol: Protocol) -> teei_obs::Config {
    teei_obs::Config::new("otlp-test")
        .service_version("9.9.9")
        .environment("staging")
        .sampler(Sampler::AlwaysOn)
        .install_subscriber(false)
        .export_interval(Duration::from_millis(50))
        .export_timeout(Duration::from_secs(2))
        .trace_export(TraceExport::Otlp { endpoint, protocol })
}

/// One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
async fn export_and_check(obs: teei_obs::Obs, received: Received, wiring: Wiring) {
    tracing::dispatcher::with_default(&wiring.dispatch(&obs), || {
        checkout(1).unwrap();
        checkout(2).unwrap_err();
    });
    obs.flush().expect("flush within the bound");
    let spans = received
        .wait_for(Duration::from_secs(10), |spans| spans.len() >= 4)
        .await;
    assert_eq!(spans.len(), 4, "{wiring:?}: {spans:#?}");

    let find = |name: &str, id: &str| {
        spans
            .iter()
            .find(|s| {
                s.span.name == name
                    && (name != "checkout" || attribute(&s.span, "order.id").as_deref() == Some(id))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {name} span"))
    };
    let ok_root = find("checkout", "1");
    let failed_root = find("checkout", "2");
    assert_eq!(ok_root.span.kind, SpanKind::Server as i32);
    assert!(
        ok_root.span.parent_span_id.is_empty(),
        "a root has no parent"
    );
    for (key, value) in [
        ("service.name", "otlp-test"),
        ("service.version", "9.9.9"),
        ("deployment.environment.name", "staging"),
    ] {
        assert!(
            ok_root
                .resource
                .contains(&(key.to_owned(), value.to_owned())),
            "{key} in {:?}",
            ok_root.resource
        );
    }

    let charges: Vec<_> = spans.iter().filter(|s| s.span.name == "charge").collect();
    assert_eq!(charges.len(), 2);
    for charge in &charges {
        assert_eq!(charge.span.kind, SpanKind::Client as i32);
        let parent = if charge.span.trace_id == ok_root.span.trace_id {
            &ok_root
        } else {
            &failed_root
        };
        assert_eq!(charge.span.trace_id, parent.span.trace_id);
        assert_eq!(charge.span.parent_span_id, parent.span.span_id);
    }
    let failed_charge = charges
        .iter()
        .find(|s| s.span.trace_id == failed_root.span.trace_id)
        .unwrap();
    let status = failed_charge.span.status.as_ref().expect("status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "card declined");
    assert!(
        failed_charge
            .span
            .events
            .iter()
            .any(|e| e.name == "exception")
    );
    assert_ne!(ok_root.span.trace_id, failed_root.span.trace_id);

    let metrics = obs.render_metrics();
    assert!(
        metrics.contains("teei_obs_spans_exported_total 4"),
        "{metrics}"
    );
    obs.shutdown().expect("shutdown within the bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_over_grpc_with_links_kinds_attributes_status_and_resource() {
    for wiring in Wiring::BOTH {
        let addr = free_port();
        let received = grpc_receiver(addr).await;
        let obs = teei_obs::init(config(format!("http://{addr}"), Protocol::Grpc)).unwrap();
        export_and_check(obs, received, wiring).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_over_http_protobuf_with_the_same_content() {
    for wiring in Wiring::BOTH {
        let addr = free_port();
        let received = http_receiver(addr).await;
        let obs = teei_obs::init(config(
            format!("http://{addr}/v1/traces"),
            Protocol::HttpProtobuf,
        ))
        .unwrap();
        export_and_check(obs, received, wiring).await;
    }
}

/// An exporter of the test's own, collecting what it is given.
#[derive(Debug, Clone, Default)]
struct Collecting {
    spans: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    service: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl opentelemetry_sdk::trace::SpanExporter for Collecting {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.spans
            .lock()
            .unwrap()
            .extend(batch.into_iter().map(|span| span.name.into_owned()));
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        *self.service.lock().unwrap() = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map(|value| value.to_string());
    }
}

#[test]
fn a_custom_exporter_gets_spans_through_the_same_queue_with_the_resource() {
    let collecting = Collecting::default();
    let handle = collecting.clone();
    let obs = teei_obs::init(
        teei_obs::Config::new("custom-export")
            .sampler(Sampler::AlwaysOn)
            .install_subscriber(false)
            .span_exporter(move || handle.clone()),
    )
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(obs.span_layer());
    tracing::subscriber::with_default(subscriber, || {
        checkout(1).unwrap();
    });
    obs.shutdown().unwrap();
    let mut names = collecting.spans.lock().unwrap().clone();
    names.sort();
    assert_eq!(names, ["charge", "checkout"]);
    assert_eq!(
        collecting.service.lock().unwrap().as_deref(),
        Some("custom-export")
    );
}
