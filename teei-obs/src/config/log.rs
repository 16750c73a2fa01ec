//! Log lines: the filter, the format, the `log` bridge and capture for tests.

use super::Config;
use super::env::{Env, invalid};
use crate::InitError;

/// How log lines are filtered, formatted and where they go.
#[derive(Clone, Debug)]
pub(crate) struct LogSettings {
    pub(crate) filter: String,
    pub(crate) bridge: bool,
    /// `None`: by the environment (JSON in production).
    pub(crate) format: Option<crate::log::LogFormat>,
    pub(crate) capture: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            filter: "info".to_owned(),
            bridge: true,
            format: None,
            capture: false,
        }
    }
}

impl LogSettings {
    /// `RUST_LOG` and `LOG_FORMAT`.
    pub(super) fn read(&mut self, env: &Env<'_>) -> Result<(), InitError> {
        if let Some(filter) = env.var("RUST_LOG") {
            self.filter = filter;
        }
        self.format = match env.var("LOG_FORMAT").as_deref() {
            None => None,
            Some("json") => Some(crate::log::LogFormat::Json),
            Some("pretty") => Some(crate::log::LogFormat::Pretty),
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    other.to_owned(),
                    "`json` or `pretty`",
                ));
            }
        };
        Ok(())
    }
}

impl Config {
    /// Sets the log line format (default: JSON in `production`, pretty elsewhere).
    pub fn log_format(mut self, format: crate::log::LogFormat) -> Self {
        self.log.format = Some(format);
        self
    }

    /// Keeps log lines in memory ([`Obs::recent_logs`](crate::Obs::recent_logs)) instead of
    /// writing them to standard error: for tests.
    pub fn capture_logs(mut self, capture: bool) -> Self {
        self.log.capture = capture;
        self
    }

    /// The log format in force.
    pub fn effective_log_format(&self) -> crate::log::LogFormat {
        self.log.format.unwrap_or(if self.service.is_production() {
            crate::log::LogFormat::Json
        } else {
            crate::log::LogFormat::Pretty
        })
    }

    /// Sets which events become log lines and Sentry events (`RUST_LOG`, the full
    /// `EnvFilter` syntax: `info`, `my_crate=debug,info`, `my_crate[handler{id=7}]=debug`).
    /// It does not decide which spans are traced: see [`Config::traces_filter`].
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log.filter = filter.into();
        self
    }

    /// Whether `init` routes records of the `log` crate (reqwest, rustls, tokio-postgres…)
    /// into the same lines through `tracing-log` (on by default; once per process).
    pub fn log_bridge(mut self, bridge: bool) -> Self {
        self.log.bridge = bridge;
        self
    }
}
