//! `Config` from the environment: every variable, its errors, and the builder over it.

use super::*;
use crate::trace::Sampler;

fn from(vars: &[(&str, &str)]) -> Result<Config, InitError> {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
}

#[test]
fn an_endpoint_selects_otlp_and_http_gets_the_traces_path() {
    let config = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
    assert_eq!(
        config.effective_trace_export(),
        TraceExport::Otlp {
            endpoint: "http://collector:4318/v1/traces".into(),
            protocol: Protocol::HttpProtobuf
        }
    );
    let grpc = from(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ])
    .unwrap();
    assert!(matches!(
        grpc.effective_trace_export(),
        TraceExport::Otlp {
            protocol: Protocol::Grpc,
            ..
        }
    ));
}

#[test]
fn the_default_protocol_is_http_protobuf_and_grpc_takes_host_port() {
    let http = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://ingest.example:4318")]).unwrap();
    assert_eq!(
        http.effective_trace_export(),
        TraceExport::Otlp {
            endpoint: "https://ingest.example:4318/v1/traces".into(),
            protocol: Protocol::HttpProtobuf
        }
    );
    let endpoint = |vars: &[(&str, &str)]| match from(vars).unwrap().effective_trace_export() {
        TraceExport::Otlp { endpoint, .. } => endpoint,
        other => panic!("{other:?}"),
    };
    let grpc = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
    ];
    assert_eq!(endpoint(&grpc), "https://collector:4317");
    let insecure = [grpc[0], grpc[1], ("OTEL_EXPORTER_OTLP_INSECURE", "true")];
    assert_eq!(endpoint(&insecure), "http://collector:4317");
    // The signal's own variables win over the general ones.
    let traces = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://traces:9999/custom",
        ),
    ];
    assert_eq!(endpoint(&traces), "http://traces:9999/custom");
    assert_eq!(
        endpoint(&[("OTEL_TRACES_EXPORTER", "otlp")]),
        "http://localhost:4318/v1/traces"
    );
}

#[test]
fn resource_attributes_fill_in_under_the_explicit_settings() {
    let config = from(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs, team=a%2Cb ,service.version=1.2.3",
    )])
    .unwrap();
    assert_eq!(config.name(), "from-attrs");
    assert_eq!(config.version(), Some("1.2.3"));
    assert!(
        config
            .resource_attributes()
            .contains(&("team".to_owned(), "a,b".to_owned()))
    );
    let config = from(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ("OTEL_SERVICE_NAME", "explicit"),
    ])
    .unwrap();
    assert_eq!(config.name(), "explicit");
}

#[test]
fn propagators_headers_compression_and_the_off_switch() {
    let config = from(&[
        ("OTEL_PROPAGATORS", "b3multi, tracecontext,b3multi"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-general=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=a%20b"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ])
    .unwrap();
    assert_eq!(
        config.effective_propagators(),
        [Propagator::B3Multi, Propagator::TraceContext]
    );
    assert_eq!(
        config.export.headers,
        [("api-key".to_owned(), "a b".to_owned())]
    );
    assert_eq!(config.export.compression, Compression::Gzip);
    let none = from(&[("OTEL_PROPAGATORS", "none")]).unwrap();
    assert!(none.effective_propagators().is_empty());
    assert_eq!(
        from(&[]).unwrap().effective_propagators(),
        DEFAULT_PROPAGATORS
    );

    let disabled = from(&[
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
    ])
    .unwrap();
    assert_eq!(disabled.effective_trace_export(), TraceExport::None);
}

#[test]
fn header_errors_name_the_variable_but_not_the_value() {
    let error = from(&[(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer%20s3cr3t,oops",
    )])
    .unwrap_err()
    .to_string();
    assert!(error.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{error}");
    assert!(error.contains("entry 2"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
}

#[test]
fn without_an_endpoint_spans_stay_in_memory() {
    assert_eq!(
        from(&[]).unwrap().effective_trace_export(),
        TraceExport::Memory
    );
}

#[test]
fn production_samples_a_tenth_by_default() {
    let config = from(&[("DEPLOYMENT_ENVIRONMENT", "production")]).unwrap();
    assert_eq!(config.effective_sampler(), Sampler::default_for(true));
    assert_ne!(
        from(&[]).unwrap().effective_sampler(),
        Sampler::default_for(true)
    );
}

#[test]
fn every_invalid_value_names_its_variable() {
    let cases = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc+tls"),
        ("OTEL_PROPAGATORS", "tracecontext,xray"),
        ("OTEL_PROPAGATORS", "none,b3"),
        ("OTEL_SDK_DISABLED", "yes"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "1"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "br"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team"),
        ("OTEL_RESOURCE_ATTRIBUTES", "=a"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=%zz"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=b,bad key=c"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "ten"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_TRACES_SAMPLER", "maybe"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5s"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("RUST_LOG", "info,=,x=loud"),
        ("LOG_FORMAT", "xml"),
        ("SENTRY_DSN", "not a dsn"),
        ("SENTRY_TRACES_SAMPLE_RATE", "0.2"),
    ];
    for (variable, value) in cases {
        let error = from(&[(variable, value)]).unwrap_err().to_string();
        assert!(error.contains(variable), "{variable}: {error}");
        assert!(error.contains("expected"), "{variable}: {error}");
    }
    let error = from(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
    ])
    .unwrap_err()
    .to_string();
    assert!(error.contains("OTEL_TRACES_SAMPLER_ARG"), "{error}");
}

#[test]
#[cfg(feature = "sentry")]
fn a_sentry_traces_rate_is_refused_naming_opentelemetry_and_zero_is_accepted() {
    let error = from(&[("SENTRY_TRACES_SAMPLE_RATE", "1")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("OpenTelemetry"), "{error}");
    assert!(from(&[("SENTRY_TRACES_SAMPLE_RATE", "0")]).is_ok());
    assert!(from(&[("SENTRY_TRACES_SAMPLE_RATE", "0.0")]).is_ok());
}
