//! The macros and the runtime read one vocabulary (`teei-obs-shared`): kinds, probes, span
//! kinds, default buckets and the name rule. These tests fail when what a macro emits and
//! what the runtime makes of it disagree — a kind, probe or span kind one side adds and the
//! other does not know, or defaults that decode differently.

use std::collections::BTreeSet;
use std::time::Duration;

use opentelemetry::trace::SpanKind;
use teei_obs::health::{Kind, Probe};
use teei_obs::{counted, health_check, traced};
use teei_obs_shared::{HEALTH_KINDS, PROBES, SPAN_KINDS};

// One check of every kind, each with the kind's defaults.
#[health_check(kind = "db", name = "vocabulary_db")]
async fn db() -> Result<(), String> {
    Ok(())
}
#[health_check(kind = "cache", name = "vocabulary_cache")]
async fn cache() -> Result<(), String> {
    Ok(())
}
#[health_check(kind = "queue", name = "vocabulary_queue")]
async fn queue() -> Result<(), String> {
    Ok(())
}
#[health_check(kind = "nats", name = "vocabulary_nats")]
async fn nats() -> Result<(), String> {
    Ok(())
}
#[health_check(kind = "http", name = "vocabulary_http")]
async fn http() -> Result<(), String> {
    Ok(())
}
#[health_check(kind = "disk", name = "vocabulary_disk")]
async fn disk() -> Result<(), String> {
    Ok(())
}
#[health_check(kind = "custom", name = "vocabulary_custom")]
async fn custom() -> Result<(), String> {
    Ok(())
}

#[test]
fn every_kind_in_the_table_is_a_runtime_kind_in_the_same_order() {
    assert_eq!(Kind::ALL.len(), HEALTH_KINDS.len());
    for (kind, shared) in Kind::ALL.into_iter().zip(HEALTH_KINDS) {
        assert_eq!(kind.as_str(), shared.name);
        assert_eq!(
            format!("{kind:?}"),
            shared.variant,
            "the macro emits Kind::{}",
            shared.variant
        );
    }
}

#[test]
fn a_check_of_each_kind_gets_the_defaults_of_the_table() {
    let checks: Vec<_> = teei_obs::health::checks()
        .filter(|check| check.name().starts_with("vocabulary_"))
        .collect();
    let kinds: BTreeSet<&str> = checks.iter().map(|check| check.kind().as_str()).collect();
    let table: BTreeSet<&str> = HEALTH_KINDS.iter().map(|kind| kind.name).collect();
    assert_eq!(kinds, table, "one check per kind of the table, above");
    for check in checks {
        let shared = teei_obs_shared::health_kind(check.kind().as_str()).expect("a known kind");
        assert_eq!(check.name(), format!("vocabulary_{}", shared.name));
        assert_eq!(check.timeout(), Duration::from_millis(shared.timeout_ms));
        assert_eq!(check.interval(), Duration::from_millis(shared.interval_ms));
        assert_eq!(check.critical(), shared.critical, "{}", shared.name);
        for (probe, bits) in Probe::ALL.into_iter().zip(PROBES) {
            assert_eq!(
                check.in_probe(probe),
                shared.probes & bits.bit != 0,
                "{} in {probe:?}",
                shared.name
            );
        }
    }
}

#[test]
fn the_probes_of_the_table_are_the_runtime_probes() {
    assert_eq!(Probe::ALL.len(), PROBES.len());
    for (probe, shared) in Probe::ALL.into_iter().zip(PROBES) {
        assert_eq!(probe.as_str(), shared.name);
        assert_eq!(format!("{probe:?}").to_lowercase(), shared.name);
    }
}

#[traced(kind = "server")]
fn as_server() {}
#[traced(kind = "client")]
fn as_client() {}
#[traced(kind = "internal")]
fn as_internal() {}
#[traced(kind = "producer")]
fn as_producer() {}
#[traced(kind = "consumer")]
fn as_consumer() {}

#[test]
fn every_span_kind_the_macro_accepts_reaches_the_exported_span() {
    let capture = teei_obs::testing::capture();
    as_server();
    as_client();
    as_internal();
    as_producer();
    as_consumer();
    let expected = [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("internal", SpanKind::Internal),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
    ];
    let named: BTreeSet<&str> = expected.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        named,
        SPAN_KINDS.into_iter().collect(),
        "a function per span kind"
    );
    for (name, kind) in expected {
        assert_eq!(capture.span(&format!("as_{name}")).kind(), kind, "{name}");
    }
}

#[counted(duration)]
fn timed() {}

#[test]
fn the_default_buckets_and_the_name_rule_are_the_runtime_ones() {
    timed();
    let entry = teei_obs::registry::functions()
        .find(|entry| entry.name() == "timed")
        .expect("registered");
    let bounds = entry.metrics().and_then(|m| m.buckets());
    // What the macro emitted, against the table (`metrics::DEFAULT_BUCKETS` is the table
    // by definition, so comparing those two could not fail).
    assert_eq!(bounds, Some(&teei_obs_shared::DEFAULT_BUCKETS[..]));
    for entry in teei_obs::registry::functions() {
        assert!(
            teei_obs_shared::is_valid_function_name(entry.name()),
            "{} passed the macro's rule",
            entry.name()
        );
    }
}
