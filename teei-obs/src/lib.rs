#![cfg_attr(docsrs, feature(doc_cfg))]
//! Observability for Rust services from attributes: one annotation gives a function its
//! metrics, one [`init`] serves them.
//!
//! ```
//! use teei_obs::counted;
//!
//! #[derive(Debug)]
//! struct OutOfStock;
//!
//! #[counted(duration)]
//! fn reserve(items: u32) -> Result<u32, OutOfStock> {
//!     if items > 3 { Err(OutOfStock) } else { Ok(items) }
//! }
//!
//! let obs = teei_obs::init(teei_obs::Config::new("shop")).expect("valid registry");
//! reserve(1).unwrap();
//! let _ = reserve(9);
//!
//! let text = obs.render_metrics();
//! let series = |result| {
//!     format!(r#"function_calls_total{{function="reserve",module="{}",result="{result}"}} 1"#, module_path!())
//! };
//! assert!(text.contains(&series("ok")), "{text}");
//! assert!(text.contains(&series("error")), "{text}");
//! // Serve it: axum::serve(listener, obs.router())
//! let _router: axum::Router = obs.router();
//! ```
//!
//! # Features
//!
//! `default-features = false` still builds a service with `/metrics`, the four `/health`
//! endpoints, logs, the in-memory span sink and propagation; each feature adds an edge:
//!
#![doc = document_features::document_features!()]
//!
//! # How it works
//!
//! The macros expand each annotated function into the function itself, wrapped, and a
//! `static` entry in a `linkme` distributed slice holding the function's name, module,
//! source location and its own metric storage. [`init`] reads the slice, validates it
//! (names, duplicated series and check names, reported with both source locations) and
//! exposes the storage to Prometheus; a call only adds to cells its own `static` owns.
//!
//! Registrations use `#[link_section]`, which the `unsafe_code` lint covers: the generated
//! statics allow it locally, but a crate with `#![forbid(unsafe_code)]` cannot host
//! annotated functions (`forbid` cannot be overridden). Use `deny` instead.
//!
//! # Guides
//!
//! - [`counted`]: the function metrics and their options.
//! - [`traced`] and [`trace`]: spans, sampling, export and propagation.
//! - [`health_check`] and [`health`]: dependency checks, probes and graceful shutdown.
//! - [`log`], [`redact`] and [`error_tracking`]: log lines, the redaction policy, Sentry.
//! - [`metrics`]: names, labels and buckets of the exported series.
//! - [`registry`]: what is registered and the linker caveat for uncalled crates.
//! - [`ops`]: Grafana dashboards, provisioning and Prometheus alert rules generated from the
//!   registry; runbooks in `docs/runbooks/`.

pub mod client;
pub mod config;
#[cfg(feature = "console")]
#[cfg_attr(docsrs, doc(cfg(feature = "console")))]
pub mod console;
#[cfg(feature = "sentry")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
pub mod error_tracking;
#[doc = include_str!("../../docs/guide.md")]
pub mod guide {}
mod error_probe;
mod hash;
pub mod health;
pub mod http;
mod init;
pub mod log;
pub mod metrics;
mod obs;
#[cfg(feature = "ops")]
pub mod ops;
pub mod redact;
pub mod registry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod time;
pub mod trace;

use std::fmt;

pub use config::Config;
pub use init::{init, instance_id};
pub use obs::Obs;
#[doc = include_str!("../../docs/counted.md")]
pub use teei_obs_macros::counted;
#[doc = include_str!("../../docs/health_check.md")]
pub use teei_obs_macros::health_check;
#[doc = include_str!("../../docs/traced.md")]
pub use teei_obs_macros::traced;

/// Why [`init`] refused to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The registry holds invalid or conflicting entries.
    #[error("{}", RegistryProblems(.0))]
    Registry(Vec<registry::RegistryError>),
    /// An environment variable holds a value that cannot be used.
    #[error("invalid value {value:?} for {variable}: expected {expected}")]
    InvalidEnv {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// `RUST_LOG` or `OTEL_TRACES_FILTER` holds a directive that cannot be parsed.
    #[error("invalid value for {variable}: {problem}")]
    InvalidFilter {
        /// The variable.
        variable: &'static str,
        /// The parser's message.
        problem: String,
    },
    /// Prometheus refused a collector.
    #[error("cannot register metrics: {0}")]
    Prometheus(#[from] prometheus::Error),
    /// The span exporter could not be built.
    #[error("cannot start span export: {0}")]
    Exporter(String),
    /// `OTEL_EXPORTER_OTLP_HEADERS` (or its `_TRACES_` form) is malformed; the message names
    /// the entry, never a value.
    #[error("invalid value for {variable}: {problem}")]
    InvalidHeaders {
        /// The variable.
        variable: &'static str,
        /// What is wrong, without the values.
        problem: String,
    },
    /// A TLS certificate or key file for OTLP is missing, unreadable or holds no PEM data.
    #[error("cannot use {} from {origin}: {reason}", path.display())]
    Certificate {
        /// The variable (or builder method) the path came from.
        origin: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Health checks need state nobody provided.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    MissingState(Vec<health::MissingState>),
}

struct RegistryProblems<'a>(&'a [registry::RegistryError]);

impl fmt::Display for RegistryProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "teei-obs registry has {} problem(s):", self.0.len())?;
        for problem in self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// An error and its `source()` chain as one text, `outer: cause: root cause` (reqwest's
/// own Display, for one, leaves out why a connection failed).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The configuration from the environment, with the calling crate's name and version as
/// the defaults of `service.name` and `service.version` (and the Sentry release):
/// [`Config::from_env_for`]`(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))`.
///
/// ```
/// let config = teei_obs::config!().expect("a valid environment");
/// // This doctest is compiled as part of teei-obs, so the version is teei-obs's own.
/// assert_eq!(config.version(), Some(env!("CARGO_PKG_VERSION")));
/// ```
#[macro_export]
macro_rules! config {
    () => {
        $crate::Config::from_env_for(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
        )
    };
}

/// What generated code names. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use linkme;

    pub use crate::error_probe::{ErrorProbe, ViaAsRef, ViaAsRefShared, ViaError, ViaNothing};
    pub use crate::health::{CheckEntry, CheckFuture, IntoOutcome, Kind, Missing, State};
    pub use crate::metrics::function::{
        AnyOutcome, Call, Histogram, NO_TIMING, NoTiming, ResultOutcome, Timing,
    };
    pub use crate::metrics::slot::{ROWS, Slot};
    pub use crate::metrics::{FunctionMetrics, Objective};
    pub use crate::registry::{FunctionEntry, Instrumentation, TracedInfo};
    pub use crate::trace::reports;
    pub use crate::trace::{PanicMark, PanicMarked};
    pub use tracing;

    /// Every `#[counted]` function of the binary. Prefixed: linkme names the link section
    /// after the slice's identifier, and two slices of one name collide.
    #[linkme::distributed_slice]
    pub static TEEI_OBS_FUNCTIONS: [FunctionEntry];

    /// Every `#[health_check]` of the binary.
    #[linkme::distributed_slice]
    pub static TEEI_OBS_HEALTH_CHECKS: [CheckEntry];

    /// Boxes a check's future.
    pub fn check_future<F>(future: F) -> CheckFuture
    where
        F: std::future::Future<Output = crate::health::CheckOutcome> + Send + 'static,
    {
        Box::pin(future)
    }

    /// A value of `T` from the state, boxed into the check's future by generated code.
    pub fn state<T: Send + Sync + 'static>(state: &State) -> Result<std::sync::Arc<T>, Missing> {
        state.get::<T>()
    }
}
