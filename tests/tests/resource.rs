//! What the exported resource says about the service: its own crate's version (also the
//! Sentry release) without naming it, `OTEL_RESOURCE_ATTRIBUTES`, the process's identity,
//! and `OTEL_SDK_DISABLED` exporting nothing while metrics and health keep answering.

use std::time::Duration;

use teei_obs::config::{Protocol, TraceExport};
use teei_obs::trace::Sampler;
use teei_obs::traced;
use teei_obs_tests::otlp::{ReceivedSpan, free_port, http_receiver};
use teei_obs_tests::sentry_endpoint;

#[traced]
fn work() {}

fn resource<'a>(span: &'a ReceivedSpan, key: &str) -> Option<&'a str> {
    span.resource
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn otlp(addr: std::net::SocketAddr) -> TraceExport {
    TraceExport::Otlp {
        endpoint: format!("http://{addr}/v1/traces"),
        protocol: Protocol::HttpProtobuf,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_crate_exports_its_own_version_and_uses_it_as_the_sentry_release() {
    let addr = free_port();
    let received = http_receiver(addr).await;
    let (dsn, envelopes) = sentry_endpoint::start();
    let obs = teei_obs::init(
        teei_obs_identity_fixture::service_config()
            .unwrap()
            .sampler(Sampler::AlwaysOn)
            .install_subscriber(false)
            .export_interval(Duration::from_millis(50))
            .trace_export(otlp(addr))
            .sentry_dsn(&dsn)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(obs.config().version(), Some("3.4.5"));
    tracing::subscriber::with_default(obs.subscriber(), || {
        work();
        tracing::error!("something failed");
    });
    obs.flush().unwrap();
    let spans = received
        .wait_for(Duration::from_secs(10), |spans| !spans.is_empty())
        .await;
    let span = spans.first().expect("the span was exported");
    assert_eq!(resource(span, "service.version"), Some("3.4.5"));
    assert_eq!(
        resource(span, "service.name"),
        Some("teei-obs-identity-fixture"),
        "the crate name is the default service name"
    );
    let instance = resource(span, "service.instance.id").expect("an instance id");
    assert!(
        teei_obs::trace::is_valid_id(instance) && instance.len() == 36,
        "{instance}"
    );
    assert_eq!(instance, teei_obs::instance_id());
    let pid = std::process::id().to_string();
    assert_eq!(resource(span, "process.pid"), Some(pid.as_str()));
    assert!(resource(span, "host.name").is_some_and(|h| !h.is_empty()));
    assert_eq!(
        resource(span, "deployment.environment.name"),
        Some("development")
    );

    assert!(obs.flush_errors(Duration::from_secs(5)));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while envelopes.events().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = envelopes.events();
    assert!(!events.is_empty(), "no Sentry event arrived");
    for event in &events {
        assert_eq!(event["release"], "3.4.5", "{event}");
    }
    obs.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_attributes_from_the_environment_reach_the_exported_resource() {
    let addr = free_port();
    let received = http_receiver(addr).await;
    let endpoint = format!("http://{addr}");
    let obs = teei_obs::init(
        teei_obs::Config::from_lookup(|name| match name {
            "OTEL_RESOURCE_ATTRIBUTES" => {
                Some("k8s.pod.name=p1,team=a,service.version=0.0.1,note=a%20b%2Cc".into())
            }
            "SERVICE_VERSION" => Some("2.0.0".into()),
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
            _ => None,
        })
        .unwrap()
        .service_name("attrs")
        .sampler(Sampler::AlwaysOn)
        .install_subscriber(false)
        .export_interval(Duration::from_millis(50)),
    )
    .unwrap();
    tracing::subscriber::with_default(obs.subscriber(), work);
    obs.flush().unwrap();
    let spans = received
        .wait_for(Duration::from_secs(10), |spans| !spans.is_empty())
        .await;
    let span = spans.first().expect("exported over the default protocol");
    assert_eq!(resource(span, "k8s.pod.name"), Some("p1"));
    assert_eq!(resource(span, "team"), Some("a"));
    assert_eq!(resource(span, "note"), Some("a b,c"));
    assert_eq!(
        resource(span, "service.version"),
        Some("2.0.0"),
        "the explicit setting wins"
    );
    assert_eq!(resource(span, "service.name"), Some("attrs"));
    obs.shutdown().unwrap();

    let error = teei_obs::Config::from_lookup(|name| {
        (name == "OTEL_RESOURCE_ATTRIBUTES").then(|| "k8s.pod.name".to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("OTEL_RESOURCE_ATTRIBUTES"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_switched_off_exports_nothing_and_still_serves_metrics_and_health() {
    let addr = free_port();
    let received = http_receiver(addr).await;
    let endpoint = format!("http://{addr}");
    let obs = teei_obs::init(
        teei_obs::Config::from_lookup(|name| match name {
            "OTEL_SDK_DISABLED" => Some("true".into()),
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
            _ => None,
        })
        .unwrap()
        .service_name("disabled")
        .sampler(Sampler::AlwaysOn)
        .install_subscriber(false)
        .export_interval(Duration::from_millis(50)),
    )
    .unwrap();
    tracing::subscriber::with_default(obs.subscriber(), || {
        for _ in 0..10 {
            work();
        }
    });
    obs.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(received.spans().is_empty(), "a disabled SDK exported spans");
    assert!(
        received.headers().is_empty(),
        "a disabled SDK called the collector"
    );

    let service = teei_obs_tests::serve(obs.router()).await;
    let metrics = teei_obs_tests::request(service, "GET", "/metrics")
        .await
        .unwrap();
    assert_eq!(metrics.status, 200);
    assert_eq!(
        teei_obs_tests::sample(&metrics.body, "teei_obs_spans_exported_total"),
        Some(0.0),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("process_cpu_seconds_total"));
    let health = teei_obs_tests::request(service, "GET", "/health/liveness")
        .await
        .unwrap();
    assert_eq!(health.status, 200, "{}", health.body);
    obs.shutdown().unwrap();
}
