//! OTLP over TLS to receivers on loopback whose certificates come from a CA this test
//! generates: gRPC and HTTP/protobuf, a private CA named by `OTEL_EXPORTER_OTLP_CERTIFICATE`,
//! mutual TLS, headers from `OTEL_EXPORTER_OTLP_HEADERS`, and a receiver the exporter must
//! not trust.

use std::time::{Duration, Instant};

use teei_obs::trace::Sampler;
use teei_obs::traced;
use teei_obs_tests::otlp::{
    Received, ReceiverTls, free_port, grpc_receiver_tls, http_receiver_tls,
};
use teei_obs_tests::sample;
use teei_obs_tests::tls::TestCa;

#[traced(kind = "server")]
fn handle(order: u64) -> u64 {
    order
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Grpc,
    Http,
}

impl Transport {
    fn protocol(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http/protobuf",
        }
    }

    async fn receiver(self, addr: std::net::SocketAddr, tls: ReceiverTls) -> Received {
        match self {
            Transport::Grpc => grpc_receiver_tls(addr, tls).await,
            Transport::Http => http_receiver_tls(addr, tls).await,
        }
    }
}

/// A configuration read from `vars` (as the environment would give them), exporting fast.
fn config(vars: Vec<(&'static str, String)>) -> Result<teei_obs::Config, teei_obs::InitError> {
    Ok(teei_obs::Config::from_lookup(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })?
    .service_name("tls-test")
    .sampler(Sampler::AlwaysOn)
    .install_subscriber(false)
    .export_interval(Duration::from_millis(50))
    .export_timeout(Duration::from_secs(2))
    .shutdown_timeout(Duration::from_secs(3)))
}

fn emit(obs: &teei_obs::Obs, count: u64) {
    tracing::subscriber::with_default(obs.subscriber(), || {
        for order in 0..count {
            handle(order);
        }
    });
}

/// A receiver of `transport` presenting `server`'s certificate, and a service exporting to
/// it at `https://localhost:PORT` that trusts the CA file `trusted`, with `extra` variables.
async fn receiver_and_service(
    transport: Transport,
    server: &teei_obs_tests::tls::Pem,
    trusted: std::path::PathBuf,
    extra: Vec<(&'static str, String)>,
) -> (Received, teei_obs::Obs) {
    let addr = free_port();
    let received = transport
        .receiver(
            addr,
            ReceiverTls {
                server: server.clone(),
                client_ca: None,
            },
        )
        .await;
    let mut vars = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("https://localhost:{}", addr.port()),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", transport.protocol().into()),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            trusted.display().to_string(),
        ),
    ];
    vars.extend(extra);
    (received, teei_obs::init(config(vars).unwrap()).unwrap())
}

async fn exports_over_tls_with_a_private_ca_and_headers(transport: Transport) {
    let ca = TestCa::generate("teei-obs test CA");
    let headers = "api-key=s3cr%3Dt,x-tenant=team%20a".to_owned();
    let (received, obs) = receiver_and_service(
        transport,
        &ca.server,
        ca.path("ca.pem"),
        vec![("OTEL_EXPORTER_OTLP_HEADERS", headers)],
    )
    .await;
    emit(&obs, 3);
    obs.flush().expect("flush within the bound");
    let spans = received
        .wait_for(Duration::from_secs(10), |spans| spans.len() >= 3)
        .await;
    assert_eq!(spans.len(), 3, "{transport:?}: {spans:#?}");
    assert!(spans.iter().all(|s| s.span.name == "handle"));
    let headers = received.headers();
    assert!(!headers.is_empty());
    for request in &headers {
        let header = |name: &str| {
            request
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(header("api-key"), ["s3cr=t"], "{transport:?}: {request:?}");
        assert_eq!(header("x-tenant"), ["team a"], "{transport:?}: {request:?}");
    }
    let metrics = obs.render_metrics();
    assert_eq!(
        sample(&metrics, "teei_obs_span_export_failures_total"),
        Some(0.0)
    );
    obs.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_with_a_private_ca_and_headers() {
    exports_over_tls_with_a_private_ca_and_headers(Transport::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_over_tls_with_a_private_ca_and_headers() {
    exports_over_tls_with_a_private_ca_and_headers(Transport::Http).await;
}

async fn mutual_tls(transport: Transport) {
    let ca = TestCa::generate("teei-obs mTLS CA");
    let addr = free_port();
    let received = transport
        .receiver(
            addr,
            ReceiverTls {
                server: ca.server.clone(),
                client_ca: Some(ca.ca.clone()),
            },
        )
        .await;
    let endpoint = format!("https://127.0.0.1:{}", addr.port());
    let base = || {
        vec![
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                match transport {
                    Transport::Grpc => endpoint.clone(),
                    Transport::Http => format!("{endpoint}/v1/traces"),
                },
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                transport.protocol().into(),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                ca.path("ca.pem").display().to_string(),
            ),
        ]
    };

    // Without a client certificate the receiver refuses the handshake: counted, not crashed.
    let anonymous = teei_obs::init(config(base()).unwrap()).unwrap();
    emit(&anonymous, 2);
    let _ = anonymous.flush();
    let failures = sample(
        &anonymous.render_metrics(),
        "teei_obs_span_export_failures_total",
    );
    assert!(
        failures.unwrap_or(0.0) >= 1.0,
        "{transport:?}: {failures:?}"
    );
    anonymous.shutdown().unwrap();
    assert!(received.spans().is_empty());

    let mut vars = base();
    vars.push((
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        ca.path("client.pem").display().to_string(),
    ));
    vars.push((
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        ca.path("client.key").display().to_string(),
    ));
    let obs = teei_obs::init(config(vars).unwrap()).unwrap();
    emit(&obs, 2);
    obs.flush().unwrap();
    let spans = received
        .wait_for(Duration::from_secs(10), |spans| spans.len() >= 2)
        .await;
    assert_eq!(spans.len(), 2, "{transport:?}");
    obs.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_mutual_tls() {
    mutual_tls(Transport::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_mutual_tls() {
    mutual_tls(Transport::Http).await;
}

async fn an_untrusted_receiver_costs_spans_not_the_service(transport: Transport) {
    let trusted = TestCa::generate("the CA the service trusts");
    let other = TestCa::generate("some other CA");
    let (received, obs) =
        receiver_and_service(transport, &other.server, trusted.path("ca.pem"), vec![]).await;
    let app = axum::Router::new()
        .route("/orders", axum::routing::get(|| async { "ok" }))
        .layer(obs.request_layer())
        .merge(obs.router());
    let service = teei_obs_tests::serve(app).await;

    let started = Instant::now();
    for round in 0..5 {
        let response = teei_obs_tests::request(service, "GET", "/orders")
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{transport:?} round {round}");
        emit(&obs, 5);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    // The requests were not slowed by the failing export: well under one export timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let _ = obs.flush();
    let metrics = obs.render_metrics();
    let failures = sample(&metrics, "teei_obs_span_export_failures_total").unwrap_or(0.0);
    assert!(failures >= 1.0, "{transport:?}: {metrics}");
    let dropped = sample(
        &metrics,
        r#"teei_obs_spans_dropped_total{reason="export_failed"}"#,
    )
    .unwrap_or(0.0);
    assert!(dropped >= 1.0, "{transport:?}: {metrics}");
    assert!(
        received.spans().is_empty(),
        "{transport:?}: the untrusted receiver got spans"
    );

    let stopping = Instant::now();
    emit(&obs, 5);
    let _ = obs.shutdown();
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "{transport:?}: shutdown took {:?}",
        stopping.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_untrusted_receiver() {
    an_untrusted_receiver_costs_spans_not_the_service(Transport::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_untrusted_receiver() {
    an_untrusted_receiver_costs_spans_not_the_service(Transport::Http).await;
}

#[test]
fn a_missing_or_wrong_certificate_file_is_an_init_error_naming_variable_and_path() {
    let ca = TestCa::generate("files");
    let endpoint = (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://localhost:4318".to_owned(),
    );
    let cases = [
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            ca.dir().join("missing.pem"),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            ca.path("server.key"),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            ca.path("client.pem"),
        ),
    ];
    for (variable, path) in cases {
        let mut vars = vec![endpoint.clone(), (variable, path.display().to_string())];
        if variable == "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE" {
            // A key file that holds a certificate, not a key.
            vars.push((
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                ca.path("ca.pem").display().to_string(),
            ));
        }
        let error = teei_obs::init(config(vars).unwrap())
            .unwrap_err()
            .to_string();
        let named = if variable == "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE" {
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", ca.path("ca.pem"))
        } else {
            (variable, path.clone())
        };
        assert!(error.contains(named.0), "{variable}: {error}");
        assert!(
            error.contains(&named.1.display().to_string()),
            "{variable}: {error}"
        );
    }
    let error = teei_obs::init(
        config(vec![
            endpoint,
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                ca.path("client.pem").display().to_string(),
            ),
        ])
        .unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_compression_reaches_the_receiver_compressed() {
    let ca = TestCa::generate("gzip CA");
    let (received, obs) = receiver_and_service(
        Transport::Http,
        &ca.server,
        ca.path("ca.pem"),
        vec![("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip".into())],
    )
    .await;
    emit(&obs, 2);
    obs.flush().unwrap();
    let spans = received
        .wait_for(Duration::from_secs(10), |spans| spans.len() >= 2)
        .await;
    assert_eq!(spans.len(), 2);
    for request in received.headers() {
        assert!(
            request
                .iter()
                .any(|(n, v)| n == "content-encoding" && v == "gzip"),
            "{request:?}"
        );
    }
    obs.shutdown().unwrap();
}
