//! The environment is input too: whatever the variables teei-obs reads hold — arbitrary
//! Unicode, control characters, numbers out of range, broken percent-escapes, URLs of
//! every shape — reading them never panics, and a refusal names a variable that was set,
//! so the operator knows which one to fix. The hand-picked invalid values (each must name
//! its variable and say what was expected) are in `teei-obs/src/config/tests.rs`.

use std::collections::HashMap;

use proptest::prelude::*;

/// Every variable `Config::from_env` reads.
const VARIABLES: &[&str] = &[
    "DEPLOYMENT_ENVIRONMENT",
    "LOG_FORMAT",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_PROPAGATORS",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_FILTER",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "RUST_LOG",
    "SENTRY_DSN",
    "SENTRY_SAMPLE_RATE",
    "SENTRY_TRACES_SAMPLE_RATE",
    "SERVICE_VERSION",
    "TEEI_OBS_CONSOLE",
    "TEEI_OBS_CONSOLE_LOGS",
    "TEEI_OBS_CONSOLE_SPANS_PER_TRACE",
    "TEEI_OBS_CONSOLE_TRACES",
];

/// Words these variables take.
const WORDS: &[&str] = &[
    "true",
    "false",
    "TRUE",
    "1",
    "none",
    "json",
    "pretty",
    "grpc",
    "http/protobuf",
    "gzip",
    "otlp",
    "console",
    "memory",
    "always_on",
    "traceidratio",
    "parentbased_traceidratio",
    "tracecontext,baggage,b3,b3multi",
    "production",
];

/// Values of the shapes these variables take, near-valid ones and anything at all.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Numbers, durations, rates, booleans.
        "-?[0-9]{0,21}(\\.[0-9]{0,4})?(e-?[0-9]{1,3})?",
        proptest::sample::select(WORDS).prop_map(str::to_owned),
        // Endpoints and DSNs.
        "(https?|ftp|grpc)?(://)?[a-z0-9.@:%\\[\\]-]{0,24}(:[0-9]{0,6})?(/[a-z0-9%]{0,8}){0,2}",
        // key=value lists (headers, resource attributes, filters), with escapes.
        proptest::collection::vec(
            (
                "[a-zA-Z0-9._ -]{0,8}",
                "(%[0-9A-Fa-fzZ]{0,2}|[a-z0-9=:,]){0,8}"
            )
                .prop_map(|(k, v)| format!("{k}={v}")),
            0..4,
        )
        .prop_map(|pairs| pairs.join(",")),
        // Anything.
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_environment_is_read_without_panic_and_a_refusal_names_its_variable(
        set in proptest::collection::vec((proptest::sample::select(VARIABLES), value()), 0..8)
    ) {
        let env: HashMap<&str, String> = set.iter().map(|(k, v)| (*k, v.clone())).collect();
        match teei_obs::Config::from_lookup(|name| env.get(name).cloned()) {
            Ok(config) => {
                // What `init` asks of it next.
                let _ = config.effective_sampler();
                let _ = config.effective_trace_export();
                let _ = config.effective_propagators();
                let _ = config.effective_log_format();
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    env.keys().any(|name| message.contains(name)),
                    "the refusal names none of the variables set: {} (set: {:?})",
                    message,
                    env
                );
            }
        }
    }
}
