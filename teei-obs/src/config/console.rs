//! The embedded console at `/obs`: on or off, and how much it keeps.

use super::Config;
use super::env::Env;
use crate::InitError;

#[cfg(feature = "console")]
pub use crate::console::ConsoleLimits;

/// How much the console keeps (without the `console` feature, kept for the builder).
#[cfg(not(feature = "console"))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleLimits {
    /// Traces kept.
    pub traces: usize,
    /// Spans kept of one trace.
    pub spans_per_trace: usize,
    /// Log lines kept.
    pub logs: usize,
}

/// Whether the console runs and what it keeps.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConsoleSettings {
    /// `None`: on outside `production`.
    pub(crate) on: Option<bool>,
    pub(crate) limits: ConsoleLimits,
}

impl ConsoleSettings {
    /// `TEEI_OBS_CONSOLE` and its limits `TEEI_OBS_CONSOLE_TRACES`,
    /// `…_SPANS_PER_TRACE` and `…_LOGS`.
    pub(super) fn read(&mut self, env: &Env<'_>) -> Result<(), InitError> {
        if let Some(on) = env.boolean("TEEI_OBS_CONSOLE")? {
            self.on = Some(on);
        }
        let limits = &mut self.limits;
        for (name, limit) in [
            ("TEEI_OBS_CONSOLE_TRACES", &mut limits.traces),
            (
                "TEEI_OBS_CONSOLE_SPANS_PER_TRACE",
                &mut limits.spans_per_trace,
            ),
            ("TEEI_OBS_CONSOLE_LOGS", &mut limits.logs),
        ] {
            if let Some(value) = env.count(name)? {
                *limit = value;
            }
        }
        Ok(())
    }
}

impl Config {
    /// Switches the embedded console ([`console`](crate::console), mounted at `/obs` by
    /// [`Obs::router`](crate::Obs::router)) on or off, whatever the environment
    /// (`TEEI_OBS_CONSOLE`); by default it is on outside `production`.
    pub fn console(mut self, on: bool) -> Self {
        self.console.on = Some(on);
        self
    }

    /// How much the console keeps in memory (`TEEI_OBS_CONSOLE_TRACES`,
    /// `TEEI_OBS_CONSOLE_SPANS_PER_TRACE`, `TEEI_OBS_CONSOLE_LOGS`).
    pub fn console_limits(mut self, limits: ConsoleLimits) -> Self {
        self.console.limits = limits;
        self
    }

    /// Whether `init` starts the console: [`Config::console`] or `TEEI_OBS_CONSOLE` if
    /// set, else on outside `production` (always off without the `console` feature).
    pub fn console_enabled(&self) -> bool {
        cfg!(feature = "console") && self.console.on.unwrap_or(!self.service.is_production())
    }
}
