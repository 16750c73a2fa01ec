//! What is logged and what is traced, decided apart.
//!
//! `RUST_LOG` (the full `EnvFilter` syntax) decides which events become log lines and
//! Sentry events; the traces filter (`OTEL_TRACES_FILTER`, `target=level` directives,
//! `info` by default) decides which spans are recorded — and so exported, as the sampler
//! decides — and which events are attached to them. So `RUST_LOG=warn` keeps traces whole
//! and `RUST_LOG=debug` does not export every library's debug spans.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::Filter;

/// The two filters.
#[derive(Clone, Debug)]
pub(crate) struct Filters {
    pub(crate) log: LogFilter,
    pub(crate) traces: Targets,
}

/// `RUST_LOG`: plain `target=level` directives (which the fast subscriber evaluates
/// itself), or directives only `EnvFilter` understands (span and field filters).
#[derive(Clone, Debug)]
pub(crate) enum LogFilter {
    Targets(Targets),
    Env(String),
}

impl LogFilter {
    /// Parses `RUST_LOG`; the error is `EnvFilter`'s.
    pub(crate) fn parse(directives: &str) -> Result<Self, String> {
        // Validate with the parser users know, whatever the form.
        EnvFilter::builder()
            .with_regex(false)
            .parse(directives)
            .map_err(|error| error.to_string())?;
        let plain = !directives.contains(['[', '{', '}', ']']);
        match directives.parse::<Targets>() {
            Ok(targets) if plain => Ok(LogFilter::Targets(targets)),
            _ => Ok(LogFilter::Env(directives.to_owned())),
        }
    }

    /// The plain form, when there is one.
    pub(crate) fn targets(&self) -> Option<&Targets> {
        match self {
            LogFilter::Targets(targets) => Some(targets),
            LogFilter::Env(_) => None,
        }
    }

    /// A per-layer filter for a `Registry`.
    pub(crate) fn layer_filter<S>(&self) -> Box<dyn Filter<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        match self {
            LogFilter::Targets(targets) => Box::new(targets.clone()),
            LogFilter::Env(directives) => Box::new(
                EnvFilter::builder()
                    .with_regex(false)
                    .parse(directives)
                    .unwrap_or_else(|_| EnvFilter::new("info")),
            ),
        }
    }
}

impl Filters {
    /// Parses both; the error names the variable.
    pub(crate) fn parse(log: &str, traces: &str) -> Result<Self, crate::InitError> {
        let log = LogFilter::parse(log).map_err(|problem| crate::InitError::InvalidFilter {
            variable: "RUST_LOG",
            problem: format!(
                "{log:?}: {problem} (expected comma-separated `EnvFilter` directives: `level`, \
                 `target=level`, `target[span{{field=value}}]=level`)"
            ),
        })?;
        let traces =
            traces
                .parse::<Targets>()
                .map_err(|error| crate::InitError::InvalidFilter {
                    variable: "OTEL_TRACES_FILTER",
                    problem: format!(
                        "{traces:?}: {error} (expected `level` or `target=level` directives)"
                    ),
                })?;
        Ok(Filters { log, traces })
    }
}

/// The most verbose level `targets` lets through.
pub(crate) fn max_level(targets: &Targets) -> LevelFilter {
    targets
        .iter()
        .map(|(_, level)| level)
        .chain(targets.default_level())
        .max()
        .unwrap_or(LevelFilter::OFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_directives_stay_plain_and_span_directives_go_to_env_filter() {
        assert!(matches!(
            LogFilter::parse("warn,my_crate=debug"),
            Ok(LogFilter::Targets(_))
        ));
        assert!(matches!(
            LogFilter::parse("my_crate[handler{id=7}]=debug"),
            Ok(LogFilter::Env(_))
        ));
        assert!(LogFilter::parse("[[[").is_err());
        assert!(Filters::parse("info", "my_crate=loud").is_err());
    }
}
