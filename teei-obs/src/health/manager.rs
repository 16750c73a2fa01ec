//! Runs the checks in the background and answers the probes from their cached results.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use prometheus::{HistogramOpts, HistogramVec, IntGaugeVec, Opts};
use tokio::sync::watch;

use super::report::{
    CheckHistory, CheckReport, Damping, HISTORY_LEN, HealthReport, Run, Status, millis, worst,
};
use super::{CheckEntry, CheckOutcome, Probe, State};

#[derive(Debug, Default)]
struct Latest {
    /// `None` until the first run; afterwards the damped state.
    passing: Option<bool>,
    degraded: bool,
    message: Option<String>,
    latency: Duration,
    failures: u32,
    successes: u32,
    history: VecDeque<Run>,
}

#[derive(Debug)]
struct Runner {
    entry: &'static CheckEntry,
    latest: Mutex<Latest>,
    runs: AtomicU64,
    generation: watch::Sender<u64>,
}

#[derive(Clone, Debug)]
struct Metrics {
    status: IntGaugeVec,
    duration: HistogramVec,
}

/// What becomes of a check's message: the redaction policy it passes as it is recorded
/// (it leaves the process in `/health`, the console and the "health check failing" log
/// line), and whether `/health` shows it at all.
#[derive(Clone, Debug)]
pub(crate) struct Messages {
    pub(crate) redactor: crate::redact::Redactor,
    pub(crate) details: bool,
}

/// The health of a service: its checks, their cached results and the probe logic.
#[derive(Debug)]
pub struct HealthManager {
    runners: Vec<Arc<Runner>>,
    state: State,
    service: String,
    version: String,
    started_at: Instant,
    damping: Damping,
    messages: Messages,
    shutting_down: AtomicBool,
    started: AtomicBool,
    metrics: Metrics,
    loops: OnceLock<()>,
}

/// Why the checks cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "health check `{check}` at {location} needs a `{missing}`, which was not provided: call Config::provide with one"
)]
pub struct MissingState {
    /// The check.
    pub check: &'static str,
    /// Where it is defined.
    pub location: crate::registry::Location,
    /// The type nobody provided.
    pub missing: &'static str,
}

impl HealthManager {
    pub(crate) fn new(
        entries: impl IntoIterator<Item = &'static CheckEntry>,
        state: State,
        service: String,
        version: String,
        damping: Damping,
        messages: Messages,
        registry: &prometheus::Registry,
    ) -> Result<Self, crate::InitError> {
        let mut missing = Vec::new();
        let runners: Vec<Arc<Runner>> = entries
            .into_iter()
            .map(|entry| {
                // Building the future only clones the state it needs; it is not polled.
                if let Err(super::Missing(type_name)) = entry.start(&state) {
                    missing.push(MissingState {
                        check: entry.name(),
                        location: entry.location(),
                        missing: type_name,
                    });
                }
                Arc::new(Runner {
                    entry,
                    latest: Mutex::new(Latest::default()),
                    runs: AtomicU64::new(0),
                    generation: watch::channel(0).0,
                })
            })
            .collect();
        if !missing.is_empty() {
            return Err(crate::InitError::MissingState(missing));
        }
        let metrics = Metrics {
            status: IntGaugeVec::new(
                Opts::new(
                    crate::metrics::names::HEALTH_CHECK_STATUS,
                    "1 while a health check passes, 0 while it fails",
                ),
                &["name", "kind"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    crate::metrics::names::HEALTH_CHECK_DURATION_SECONDS,
                    "Duration of health check runs",
                )
                .buckets(vec![
                    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["name", "kind"],
            )?,
        };
        for runner in &runners {
            let labels = [runner.entry.name(), runner.entry.kind().as_str()];
            metrics.status.with_label_values(&labels);
            metrics.duration.with_label_values(&labels);
        }
        registry.register(Box::new(metrics.status.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        Ok(HealthManager {
            started: AtomicBool::new(!runners.iter().any(|r| r.entry.in_probe(Probe::Startup))),
            runners,
            state,
            service,
            version,
            started_at: Instant::now(),
            damping,
            messages,
            shutting_down: AtomicBool::new(false),
            metrics,
            loops: OnceLock::new(),
        })
    }

    /// Starts the background runs on the current Tokio runtime, once; without a runtime it
    /// does nothing (the first probe served will start them).
    pub fn start(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.loops.get_or_init(|| {
            for runner in &self.runners {
                let manager = Arc::clone(self);
                let runner = Arc::clone(runner);
                runtime.spawn(async move {
                    loop {
                        manager.run_once(&runner).await;
                        tokio::time::sleep(runner.entry.interval()).await;
                    }
                });
            }
        });
    }

    /// Readiness answers 503 from now on; liveness and `/health` keep answering.
    pub fn set_shutting_down(&self) {
        if !self.shutting_down.swap(true, Ordering::SeqCst) {
            tracing::info!("shutting down: readiness now reports unhealthy");
        }
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Marks start-up complete even if startup checks have not passed yet.
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    /// How many times check `name` has run (its body, not the probes that read it).
    pub fn runs(&self, name: &str) -> Option<u64> {
        self.runners
            .iter()
            .find(|runner| runner.entry.name() == name)
            .map(|runner| runner.runs.load(Ordering::SeqCst))
    }

    /// Every check's last runs (at most [`HISTORY_LEN`] each), in registration order.
    pub fn histories(&self) -> Vec<CheckHistory> {
        self.runners
            .iter()
            .map(|runner| CheckHistory {
                name: runner.entry.name(),
                kind: runner.entry.kind().as_str(),
                runs: runner
                    .latest
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .history
                    .iter()
                    .cloned()
                    .collect(),
            })
            .collect()
    }

    async fn run_once(&self, runner: &Runner) {
        let entry = runner.entry;
        let started = Instant::now();
        runner.runs.fetch_add(1, Ordering::SeqCst);
        let outcome = self.outcome(entry).await;
        let latency = started.elapsed();
        let labels = [entry.name(), entry.kind().as_str()];
        self.metrics
            .duration
            .with_label_values(&labels)
            .observe(latency.as_secs_f64());
        let now_passing = self.record(runner, outcome, latency);
        self.metrics
            .status
            .with_label_values(&labels)
            .set(i64::from(now_passing));
        runner.generation.send_modify(|generation| *generation += 1);
    }

    /// Runs `entry` once in a task of its own: a panic is caught at the join, a hang is
    /// cut off at the check's timeout, missing state is a failure naming the type.
    async fn outcome(&self, entry: &'static CheckEntry) -> CheckOutcome {
        let future = match entry.start(&self.state) {
            Ok(future) => future,
            Err(super::Missing(type_name)) => {
                return CheckOutcome::Unhealthy(format!("no `{type_name}` was provided"));
            }
        };
        let task = tokio::spawn(future);
        let abort = task.abort_handle();
        match tokio::time::timeout(entry.timeout(), task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) if error.is_panic() => {
                let payload = error.into_panic();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic".to_owned());
                CheckOutcome::Unhealthy(format!("check panicked: {message}"))
            }
            Ok(Err(_)) => CheckOutcome::Unhealthy("check was cancelled".to_owned()),
            Err(_) => {
                abort.abort();
                CheckOutcome::Unhealthy(format!("timed out after {:?}", entry.timeout()))
            }
        }
    }

    /// Records a run's outcome in the runner's state, damped; logs a change of state.
    /// Returns whether the check now counts as passing.
    fn record(&self, runner: &Runner, outcome: CheckOutcome, latency: Duration) -> bool {
        let entry = runner.entry;
        let (passed, degraded, message) = match outcome {
            // Every passing check says so, as the TypeScript package's did.
            CheckOutcome::Healthy => (true, false, Some(format!("OK in {}", millis(latency)))),
            CheckOutcome::HealthyWith(message) => (true, false, Some(message)),
            CheckOutcome::Degraded(message) => (true, true, Some(message)),
            CheckOutcome::Unhealthy(message) => (false, false, Some(message)),
        };
        // A client error quotes the URL it called, a panic whatever it was given.
        let message = message.map(|text| self.messages.redactor.redact_text(&text).into_owned());
        let mut latest = runner.latest.lock().unwrap_or_else(|e| e.into_inner());
        if passed {
            latest.successes += 1;
            latest.failures = 0;
        } else {
            latest.failures += 1;
            latest.successes = 0;
        }
        let before = latest.passing;
        let now_passing = match before {
            None => passed,
            Some(true) => latest.failures < self.damping.failures,
            Some(false) => latest.successes >= self.damping.successes,
        };
        latest.passing = Some(now_passing);
        latest.degraded = degraded;
        latest.message = message;
        latest.latency = latency;
        if latest.history.len() == HISTORY_LEN {
            latest.history.pop_front();
        }
        latest.history.push_back(Run {
            at_ms: crate::time::unix_millis(SystemTime::now()),
            passed,
            latency_ms: latency.as_secs_f64() * 1000.0,
        });
        if before != Some(now_passing) {
            if now_passing {
                tracing::info!(
                    check = entry.name(),
                    kind = entry.kind().as_str(),
                    "health check passing"
                );
            } else {
                tracing::warn!(
                    check = entry.name(),
                    kind = entry.kind().as_str(),
                    // Not `message`: that is the event's own text, which it would replace.
                    reason = latest.message.as_deref().unwrap_or(""),
                    "health check failing"
                );
            }
        }
        now_passing
    }

    /// The report for `probe` (`None`: `/health`, every check).
    pub async fn report(self: &Arc<Self>, probe: Option<Probe>) -> HealthReport {
        self.start();
        let runners: Vec<&Arc<Runner>> = self
            .runners
            .iter()
            .filter(|runner| match probe {
                None => true,
                Some(probe) => runner.entry.in_probe(probe),
            })
            .collect();
        // Checks that have not finished their first run yet: wait for them, all together,
        // at most the longest of their timeouts (they run concurrently in the background).
        let longest = runners
            .iter()
            .map(|runner| runner.entry.timeout())
            .max()
            .unwrap_or_default();
        let deadline = tokio::time::Instant::now() + longest + Duration::from_millis(50);
        for runner in &runners {
            let mut generation = runner.generation.subscribe();
            let _ = tokio::time::timeout_at(deadline, generation.wait_for(|g| *g > 0)).await;
        }
        let mut status = Status::Healthy;
        let dependencies = runners
            .iter()
            .map(|runner| {
                let latest = runner.latest.lock().unwrap_or_else(|e| e.into_inner());
                let check_status = match latest.passing {
                    Some(true) if latest.degraded => Status::Degraded,
                    Some(true) => Status::Healthy,
                    _ => Status::Unhealthy,
                };
                let effect = match (check_status, runner.entry.critical()) {
                    (Status::Unhealthy, true) => Status::Unhealthy,
                    (Status::Unhealthy, false) | (Status::Degraded, _) => Status::Degraded,
                    (Status::Healthy, _) => Status::Healthy,
                };
                status = worst(status, effect);
                let message = match (&latest.message, latest.passing) {
                    (_, None) => Some("no result yet".to_owned()),
                    (Some(message), _) => Some(message.clone()),
                    (None, _) => None,
                };
                CheckReport {
                    name: runner.entry.name(),
                    kind: runner.entry.kind().as_str(),
                    status: check_status,
                    critical: runner.entry.critical(),
                    latency: u64::try_from(latest.latency.as_millis()).unwrap_or(u64::MAX),
                    message: message.filter(|_| self.messages.details),
                }
            })
            .collect();
        match probe {
            Some(Probe::Readiness) if self.is_shutting_down() => status = Status::Unhealthy,
            Some(Probe::Startup) => {
                if status != Status::Unhealthy {
                    self.started.store(true, Ordering::SeqCst);
                } else if self.started.load(Ordering::SeqCst) {
                    // Started once: startup stays done even if a dependency fails later.
                    status = Status::Degraded;
                }
            }
            _ => {}
        }
        HealthReport {
            status,
            service: self.service.clone(),
            version: self.version.clone(),
            timestamp: crate::time::rfc3339(SystemTime::now()),
            uptime: self.started_at.elapsed().as_secs(),
            dependencies,
        }
    }
}
