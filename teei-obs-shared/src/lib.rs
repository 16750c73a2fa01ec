//! The vocabulary `teei-obs-macros` checks at compile time and `teei-obs` acts on at run
//! time, defined once for both: health-check kinds with their defaults, probes, span
//! kinds, levels, the default histogram bounds and the rule for a function's metric name.
//!
//! A proc-macro crate can export nothing but macros, so the tables live here, in a crate
//! without dependencies that both depend on. `tests/tests/shared_vocabulary.rs` checks that
//! what the macros emit decodes to the same values in the runtime.

#![forbid(unsafe_code)]

/// A kind of dependency a `#[health_check(kind = "…")]` names, with the defaults it gives a
/// check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthKind {
    /// As written in `kind = "…"`, in labels and in reports.
    pub name: &'static str,
    /// The variant of `teei_obs::health::Kind`.
    pub variant: &'static str,
    /// How long one run may take, in milliseconds.
    pub timeout_ms: u64,
    /// How often the check runs, in milliseconds.
    pub interval_ms: u64,
    /// Whether a failure makes the service unready.
    pub critical: bool,
    /// The probes it takes part in, as [`Probe::bit`]s.
    pub probes: u8,
}

/// Every health-check kind, in the order of `teei_obs::health::Kind::ALL`.
pub const HEALTH_KINDS: [HealthKind; 7] = [
    kind("db", "Db", 2_000, 10_000, true, READINESS | STARTUP),
    kind("cache", "Cache", 1_000, 10_000, false, READINESS | STARTUP),
    kind("queue", "Queue", 2_000, 10_000, true, READINESS | STARTUP),
    kind("nats", "Nats", 2_000, 10_000, true, READINESS | STARTUP),
    kind("http", "Http", 3_000, 15_000, false, READINESS),
    kind("disk", "Disk", 1_000, 30_000, true, READINESS),
    kind("custom", "Custom", 2_000, 10_000, true, READINESS),
];

const fn kind(
    name: &'static str,
    variant: &'static str,
    timeout_ms: u64,
    interval_ms: u64,
    critical: bool,
    probes: u8,
) -> HealthKind {
    HealthKind {
        name,
        variant,
        timeout_ms,
        interval_ms,
        critical,
        probes,
    }
}

/// The kind named `name`.
///
/// ```
/// let db = teei_obs_shared::health_kind("db").unwrap();
/// assert_eq!((db.timeout_ms, db.critical), (2_000, true));
/// assert!(teei_obs_shared::health_kind("redis").is_none());
/// ```
pub fn health_kind(name: &str) -> Option<&'static HealthKind> {
    HEALTH_KINDS.iter().find(|kind| kind.name == name)
}

/// A probe a health check takes part in, and its bit in a check's probe set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// As written in `probes(…)` and in the endpoint `/health/<name>`.
    pub name: &'static str,
    /// Its bit.
    pub bit: u8,
}

const LIVENESS: u8 = 1;
const READINESS: u8 = 2;
const STARTUP: u8 = 4;

/// The three probes, in the order of `teei_obs::health::Probe`'s variants.
pub const PROBES: [Probe; 3] = [
    Probe {
        name: "liveness",
        bit: LIVENESS,
    },
    Probe {
        name: "readiness",
        bit: READINESS,
    },
    Probe {
        name: "startup",
        bit: STARTUP,
    },
];

/// The span kinds of `#[traced(kind = "…")]` and the `otel.kind` field, as OpenTelemetry
/// names them; `internal` is the default.
pub const SPAN_KINDS: [&str; 5] = ["server", "client", "internal", "producer", "consumer"];

/// The levels of `#[traced(level = "…")]`: the name written and `tracing::Level`'s constant.
pub const LEVELS: [(&str, &str); 5] = [
    ("trace", "TRACE"),
    ("debug", "DEBUG"),
    ("info", "INFO"),
    ("warn", "WARN"),
    ("error", "ERROR"),
];

/// The bounds of a duration histogram without `buckets`, in seconds: Prometheus' client
/// default, 5 ms to 10 s.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The longest function name, in bytes, that a `function` label may carry.
pub const MAX_NAME_LEN: usize = 128;

/// Whether `name` may be a function's name in the metrics: an identifier or a
/// `::`-separated path of identifiers, ASCII, at most [`MAX_NAME_LEN`] bytes.
///
/// ```
/// use teei_obs_shared::is_valid_function_name as valid;
/// assert!(valid("orders::create") && valid("_private"));
/// assert!(!valid("") && !valid("2fast") && !valid("orders-create") && !valid("a::"));
/// ```
pub fn is_valid_function_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN
        && name.split("::").all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_timeout_within_its_interval_and_a_probe() {
        for kind in HEALTH_KINDS {
            assert!(kind.timeout_ms <= kind.interval_ms, "{kind:?}");
            assert_ne!(kind.probes, 0, "{kind:?}");
            assert_eq!(kind.probes & !(LIVENESS | READINESS | STARTUP), 0);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = HEALTH_KINDS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), HEALTH_KINDS.len());
    }
}
