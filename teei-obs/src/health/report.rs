//! What the probes answer: the status of each check, probe and service, and each check's
//! recent runs.

use std::time::Duration;

use serde::Serialize;

/// The state of a check, a probe or the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything works.
    Healthy,
    /// Works, with a non-critical dependency failing or a remark: still answers 200.
    Degraded,
    /// Does not work: the probe answers 503.
    Unhealthy,
}

impl Status {
    /// `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// How many consecutive results it takes to change a check's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damping {
    /// Consecutive failures before a passing check is reported failing (default 1: a
    /// dependency that is down is reported at the next run).
    pub failures: u32,
    /// Consecutive successes before a failing check is reported passing again (default 2:
    /// a dependency that flaps does not flap the probe).
    pub successes: u32,
}

impl Default for Damping {
    fn default() -> Self {
        Damping {
            failures: 1,
            successes: 2,
        }
    }
}

/// One check in a report.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The check's name.
    pub name: &'static str,
    /// Its kind.
    pub kind: &'static str,
    /// Its state after damping.
    pub status: Status,
    /// Whether its failure makes the service unhealthy.
    pub critical: bool,
    /// How long its last run took, in milliseconds.
    pub latency: u64,
    /// What its last run said (hidden when details are turned off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer of `/health` and the probes.
#[derive(Clone, Debug, Serialize)]
pub struct HealthReport {
    /// The overall state.
    pub status: Status,
    /// The service name.
    pub service: String,
    /// The service version.
    pub version: String,
    /// When the report was made, RFC 3339.
    pub timestamp: String,
    /// Seconds since `init`.
    pub uptime: u64,
    /// The checks that went into it.
    pub dependencies: Vec<CheckReport>,
}

/// How many runs of each check [`HealthManager::histories`](super::HealthManager::histories) keeps.
pub const HISTORY_LEN: usize = 30;

/// One finished run of a check, as [`HealthManager::histories`](super::HealthManager::histories) lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Run {
    /// When it finished, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Whether the check itself passed (before damping).
    pub passed: bool,
    /// How long it took, in milliseconds.
    pub latency_ms: f64,
}

/// A check's recent runs, oldest first.
#[derive(Clone, Debug)]
pub struct CheckHistory {
    /// The check's name.
    pub name: &'static str,
    /// Its kind (`db`, `http`, …).
    pub kind: &'static str,
    /// Its last [`HISTORY_LEN`] runs, oldest first.
    pub runs: Vec<Run>,
}

pub(super) fn worst(a: Status, b: Status) -> Status {
    let rank = |s| match s {
        Status::Healthy => 0,
        Status::Degraded => 1,
        Status::Unhealthy => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// A duration as a person reads it in a health message: `3 ms`, `0.4 ms`.
pub(crate) fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}
