//! Health: `#[health_check]` dependency checks, cached and refreshed in the background, and
//! the four Kubernetes probe endpoints.
//!
//! A check is an `async fn` returning `Result<(), E: Display>`, `Result<String, E>` (the
//! `Ok` text is its healthy message) or [`CheckOutcome`]; its
//! parameters are application state (a database pool, a client) the service hands to
//! [`Config::provide`](crate::Config::provide) at start-up. `init` fails, naming the check
//! and the type, when a check's state was not provided.
//!
//! The manager runs each check in the background once per interval, whatever the probe
//! traffic, bounds every run by the check's timeout, reports a panic as unhealthy with its
//! message, damps flapping, and exports `health_check_status{name,kind}` and
//! `health_check_duration_seconds{name,kind}`. See `docs/health.md`.

mod checks;
mod manager;
mod report;
mod routes;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "http-check")]
pub use checks::HttpCheck;
#[cfg(feature = "nats")]
pub use checks::nats;
pub use checks::{http_get, postgres_select_1};
#[cfg(feature = "postgres")]
pub use checks::{postgres_client, postgres_pool};
pub(crate) use manager::Messages;
pub use manager::{HealthManager, MissingState};
pub use report::{CheckHistory, CheckReport, Damping, HISTORY_LEN, HealthReport, Run, Status};
pub(crate) use routes::health_router;

use crate::registry::Location;

/// What a dependency is; sets a check's defaults and groups it in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A database.
    Db,
    /// A cache (Redis, memcached).
    Cache,
    /// A message queue.
    Queue,
    /// A NATS server.
    Nats,
    /// An HTTP service.
    Http,
    /// A disk or volume.
    Disk,
    /// Anything else.
    Custom,
}

impl Kind {
    /// Every kind, as `#[health_check(kind = "…")]` spells them.
    pub const ALL: [Kind; 7] = [
        Kind::Db,
        Kind::Cache,
        Kind::Queue,
        Kind::Nats,
        Kind::Http,
        Kind::Disk,
        Kind::Custom,
    ];

    /// The name used in `kind = "…"`, labels and reports.
    pub fn as_str(self) -> &'static str {
        self.defaults().name
    }

    /// The name and the defaults `#[health_check(kind = "…")]` gives a check of this kind,
    /// from the table the macro reads too.
    pub fn defaults(self) -> &'static teei_obs_shared::HealthKind {
        // `ALL` and the table list the kinds in the same order; a test checks it.
        &teei_obs_shared::HEALTH_KINDS[self as usize]
    }
}

/// The probes a check takes part in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// `/health/liveness`: is the process alive? Restarting the pod is the remedy.
    Liveness,
    /// `/health/readiness`: may it take traffic now?
    Readiness,
    /// `/health/startup`: has it finished starting?
    Startup,
}

impl Probe {
    /// Every probe, in the order of the table the macro reads (`teei-obs-shared`).
    pub const ALL: [Probe; 3] = [Probe::Liveness, Probe::Readiness, Probe::Startup];

    /// The name used in `probes(…)` and in `/health/<name>`.
    pub fn as_str(self) -> &'static str {
        teei_obs_shared::PROBES[self as usize].name
    }
}

/// A check's probes as bits, as the macro writes them: liveness 1, readiness 2, startup 4.
pub(crate) fn probe_bit(probe: Probe) -> u8 {
    teei_obs_shared::PROBES[probe as usize].bit
}

/// The result of one run of a check, for checks that want to say more than `Result`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Working; `/health` says "OK in N ms".
    Healthy,
    /// Working, with what the check saw ("200 OK in 3 ms", "Database connection OK").
    HealthyWith(String),
    /// Working, with a remark (slow, near a limit); counts as passing.
    Degraded(String),
    /// Not working.
    Unhealthy(String),
}

/// Converts what a check returns into a [`CheckOutcome`].
pub trait IntoOutcome {
    /// The outcome.
    fn into_outcome(self) -> CheckOutcome;
}

impl<E: fmt::Display> IntoOutcome for Result<(), E> {
    fn into_outcome(self) -> CheckOutcome {
        match self {
            Ok(()) => CheckOutcome::Healthy,
            Err(error) => CheckOutcome::Unhealthy(error.to_string()),
        }
    }
}

impl<E: fmt::Display> IntoOutcome for Result<String, E> {
    fn into_outcome(self) -> CheckOutcome {
        match self {
            Ok(message) => CheckOutcome::HealthyWith(message),
            Err(error) => CheckOutcome::Unhealthy(error.to_string()),
        }
    }
}

impl IntoOutcome for CheckOutcome {
    fn into_outcome(self) -> CheckOutcome {
        self
    }
}

/// Application state checks take as parameters, by type.
#[derive(Clone, Default)]
pub struct State(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "State({} values)", self.0.len())
    }
}

/// A check needs a value of a type nobody provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Missing(pub &'static str);

impl State {
    /// Adds `value`, replacing any earlier value of its type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Result<Arc<T>, Missing> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|value| value.clone().downcast::<T>().ok())
            .ok_or(Missing(std::any::type_name::<T>()))
    }
}

/// Checks `entries` for names used twice; returns every such pair.
pub(crate) fn validate<'a>(
    entries: impl IntoIterator<Item = &'a CheckEntry>,
) -> Vec<crate::registry::RegistryError> {
    let mut seen: HashMap<&str, Location> = HashMap::new();
    entries
        .into_iter()
        .filter_map(|entry| {
            let first = seen.insert(entry.name, entry.location)?;
            Some(crate::registry::RegistryError::DuplicateCheck {
                name: entry.name,
                first,
                second: entry.location,
            })
        })
        .collect()
}

/// A running check, boxed.
pub type CheckFuture = Pin<Box<dyn Future<Output = CheckOutcome> + Send + 'static>>;

/// One `#[health_check]`, as the macro registered it.
#[derive(Debug)]
pub struct CheckEntry {
    name: &'static str,
    kind: Kind,
    timeout: Duration,
    interval: Duration,
    critical: bool,
    probes: u8,
    location: Location,
    invoke: fn(&State) -> Result<CheckFuture, Missing>,
}

impl CheckEntry {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        name: &'static str,
        kind: Kind,
        timeout: Duration,
        interval: Duration,
        critical: bool,
        probes: u8,
        file: &'static str,
        line: u32,
        invoke: fn(&State) -> Result<CheckFuture, Missing>,
    ) -> Self {
        CheckEntry {
            name,
            kind,
            timeout,
            interval,
            critical,
            probes,
            location: Location { file, line },
            invoke,
        }
    }

    /// The check's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What it checks.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The bound on one run.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How often it runs.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether a failure makes the service unhealthy (else degraded).
    pub fn critical(&self) -> bool {
        self.critical
    }

    /// Whether the check takes part in `probe`.
    pub fn in_probe(&self, probe: Probe) -> bool {
        self.probes & probe_bit(probe) != 0
    }

    /// Where it is defined.
    pub fn location(&self) -> Location {
        self.location
    }

    pub(crate) fn start(&self, state: &State) -> Result<CheckFuture, Missing> {
        (self.invoke)(state)
    }
}

/// Every `#[health_check]` linked into this binary.
pub fn checks() -> impl ExactSizeIterator<Item = &'static CheckEntry> {
    crate::__private::TEEI_OBS_HEALTH_CHECKS.iter()
}
