//! Health: the state checks take, damping of flapping checks, what `/health` shows and
//! the drain before shutdown.

use std::time::Duration;

use super::Config;

/// How checks run and are reported.
#[derive(Clone, Debug)]
pub(crate) struct HealthSettings {
    pub(crate) state: crate::health::State,
    pub(crate) damping: crate::health::Damping,
    pub(crate) details: bool,
    pub(crate) drain_delay: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            state: crate::health::State::default(),
            damping: crate::health::Damping::default(),
            details: true,
            drain_delay: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// Hands `value` to the health checks that take a `&T` (or a `T: Clone`) parameter.
    pub fn provide<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.health.state.insert(value);
        self
    }

    /// Sets how many consecutive results change a check's state.
    pub fn health_damping(mut self, damping: crate::health::Damping) -> Self {
        self.health.damping = damping;
        self
    }

    /// Whether `/health` and the probes show the checks' messages (on by default; turn it
    /// off when the endpoints are reachable from outside).
    pub fn health_details(mut self, show: bool) -> Self {
        self.health.details = show;
        self
    }

    /// Sets how long readiness answers 503 before the server stops taking connections
    /// (default 5 s; a Kubernetes readiness probe period or two).
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.health.drain_delay = delay;
        self
    }
}
