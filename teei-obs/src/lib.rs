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
//! # How it works
//!
//! The macros expand each annotated function into the function itself, wrapped, and a
//! `static` entry in a `linkme` distributed slice holding the function's name, module,
//! source location and its own metric storage. [`init`] reads the slice, validates it
//! (names, duplicated series, reported with both source locations) and exposes the
//! storage to Prometheus; a call only adds to cells its own `static` owns.
//!
//! Registrations use `#[link_section]`, which the `unsafe_code` lint covers: the generated
//! statics allow it locally, but a crate with `#![forbid(unsafe_code)]` cannot host
//! annotated functions (`forbid` cannot be overridden). Use `deny` instead.
//!
//! # Guides
//!
//! - [`counted`]: the function metrics and their options.
//! - [`metrics`]: names, labels and buckets of the exported series.
//! - [`registry`]: what is registered and the linker caveat for uncalled crates.

pub mod config;
pub mod http;
pub mod metrics;
pub mod registry;

use std::fmt;

pub use config::Config;
#[doc = include_str!("../../docs/counted.md")]
pub use teei_obs_macros::counted;

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
    /// Prometheus refused a collector.
    #[error("cannot register metrics: {0}")]
    Prometheus(#[from] prometheus::Error),
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

/// The running observability of a service, returned by [`init`].
#[derive(Clone, Debug)]
pub struct Obs {
    config: Config,
    registry: prometheus::Registry,
    functions: usize,
}

/// Validates the registry and builds the pipelines.
///
/// Fails with every problem of the registry at once (invalid names, two functions
/// exporting the same series, each cited with its `file:line`); never panics.
pub fn init(config: Config) -> Result<Obs, InitError> {
    let entries: Vec<_> = registry::functions().collect();
    let problems = registry::validate(entries.iter().copied());
    if !problems.is_empty() {
        return Err(InitError::Registry(problems));
    }
    metrics::warm_up_clock();
    let functions = entries.len();
    let registry = prometheus::Registry::new();
    registry.register(Box::new(metrics::FunctionCollector::new(entries)?))?;
    tracing::info!(
        service = config.name(),
        functions,
        "teei-obs initialised with {functions} annotated function(s)"
    );
    Ok(Obs {
        config,
        registry,
        functions,
    })
}

impl Obs {
    /// The configuration it was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Prometheus registry behind `/metrics`; register the service's own metrics here.
    pub fn registry(&self) -> &prometheus::Registry {
        &self.registry
    }

    /// How many annotated functions the registry found.
    pub fn function_count(&self) -> usize {
        self.functions
    }

    /// The routes to mount: `GET /metrics`.
    pub fn router(&self) -> axum::Router {
        http::metrics_router(self.registry.clone())
    }

    /// The current exposition, as `GET /metrics` would serve it.
    pub fn render_metrics(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| format!("# cannot encode metrics: {error}\n"))
    }
}

/// What generated code names. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use linkme;

    pub use crate::metrics::FunctionMetrics;
    pub use crate::metrics::function::{
        AnyOutcome, Call, Histogram, NO_TIMING, NoTiming, ResultOutcome, Timing,
    };
    pub use crate::metrics::slot::{ROWS, Slot};
    pub use crate::registry::{FunctionEntry, Instrumentation};

    /// Every `#[counted]` function of the binary. Prefixed: linkme names the link section
    /// after the slice's identifier, and two slices of one name collide.
    #[linkme::distributed_slice]
    pub static TEEI_OBS_FUNCTIONS: [FunctionEntry];
}
