//! Function metrics: storage written by `#[counted]` code, and their Prometheus exposition.
//!
//! # Metric names
//!
//! The names and labels follow the convention of autometrics, so dashboards built for it
//! work unchanged:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `function_calls_total` | counter | `function`, `module`, `result` (`ok`, `error`, `panic`, `cancelled`) |
//! | `function_calls_duration_seconds` | histogram | `function`, `module` |
//! | `function_calls_concurrent` | gauge | `function`, `module` |
//!
//! Every series of every counted function is exported from the start, at 0, so a rate or
//! an absence alert works before the first call.
//!
//! # Default buckets
//!
//! [`DEFAULT_BUCKETS`], in seconds: Prometheus' client default, 5 ms to 10 s.

pub(crate) mod collector;
pub mod exemplar;
pub(crate) mod function;
pub mod names;
pub mod openmetrics;
pub(crate) mod slot;
mod standard;

pub use collector::FunctionCollector;
pub(crate) use function::warm_up_clock;
pub use function::{FunctionMetrics, HistogramRead, HistogramSnapshot, Objective, Outcome};
pub use standard::StandardMetrics;
pub(crate) use standard::{RuntimeCollector, start_scheduling_delay_probe};

/// `build_info{version, commit, branch, service_name} 1`, the series autometrics' queries
/// join on (`* on (instance, job) group_left(version, commit) last_over_time(build_info[1s])`):
/// the version is the service's (`Config::service_version`, `config!()` reads the crate's),
/// the commit and branch come from `GIT_COMMIT` and `GIT_BRANCH` (or autometrics'
/// `AUTOMETRICS_COMMIT`, `AUTOMETRICS_BRANCH`) at start-up, empty when unset.
pub(crate) fn build_info(config: &crate::Config) -> prometheus::Result<prometheus::IntGaugeVec> {
    let env = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .unwrap_or_default()
    };
    let info = prometheus::IntGaugeVec::new(
        prometheus::Opts::new(
            "build_info",
            "The service's build: version, commit, branch (1 while it runs)",
        ),
        &["version", "commit", "branch", "service_name"],
    )?;
    info.with_label_values(&[
        config.version().unwrap_or_default(),
        &env(["AUTOMETRICS_COMMIT", "GIT_COMMIT"]),
        &env(["AUTOMETRICS_BRANCH", "GIT_BRANCH"]),
        config.name(),
    ])
    .set(1);
    Ok(info)
}

/// Upper bounds, in seconds, of `function_calls_duration_seconds` when `#[counted(duration)]`
/// gives no `buckets`: Prometheus' client default, 5 ms to 10 s. The macro reads the same
/// constant (`teei-obs-shared`).
pub const DEFAULT_BUCKETS: [f64; 11] = teei_obs_shared::DEFAULT_BUCKETS;
