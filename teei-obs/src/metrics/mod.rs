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

mod collector;
pub mod exemplar;
pub(crate) mod function;
pub mod openmetrics;
pub(crate) mod slot;
mod standard;

pub use collector::FunctionCollector;
pub(crate) use function::warm_up_clock;
pub use function::{FunctionMetrics, HistogramRead, HistogramSnapshot, Objective, Outcome};
pub use standard::StandardMetrics;
pub(crate) use standard::{RuntimeCollector, start_scheduling_delay_probe};

/// Upper bounds, in seconds, of `function_calls_duration_seconds` when `#[counted(duration)]`
/// gives no `buckets`. The macro holds the same list; a test keeps the two equal.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
