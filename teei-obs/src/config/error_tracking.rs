//! Error tracking (Sentry): the DSN, the sample rate, and which events become reports.

use super::Config;
use super::env::{Env, invalid};
use crate::InitError;

/// Where errors are reported and which.
#[derive(Clone, Debug, Default)]
pub(crate) struct ErrorTrackingSettings {
    #[cfg(feature = "sentry")]
    pub(crate) sentry: Option<crate::error_tracking::SentrySettings>,
    pub(crate) report_every_level: bool,
}

impl ErrorTrackingSettings {
    /// `SENTRY_DSN` and `SENTRY_SAMPLE_RATE`; `SENTRY_TRACES_SAMPLE_RATE` above 0 is refused
    /// (traces go to OpenTelemetry).
    pub(super) fn read(&mut self, env: &Env<'_>) -> Result<(), InitError> {
        #[cfg(not(feature = "sentry"))]
        if env.var("SENTRY_DSN").is_some() {
            return Err(invalid(
                "SENTRY_DSN",
                "<hidden>".to_owned(),
                "no value: this build of teei-obs has no `sentry` feature",
            ));
        }
        #[cfg(feature = "sentry")]
        if let Some(dsn) = env.var("SENTRY_DSN") {
            let rate = |name: &'static str, default: f32| -> Result<f32, InitError> {
                match env.var(name) {
                    None => Ok(default),
                    Some(value) => value
                        .parse::<f32>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| invalid(name, value, "a number from 0 to 1")),
                }
            };
            self.sentry = Some(crate::error_tracking::SentrySettings {
                dsn: dsn.parse().map_err(|_| {
                    invalid(
                        "SENTRY_DSN",
                        dsn.clone(),
                        "a Sentry DSN: https://<key>@<host>/<project id>",
                    )
                })?,
                sample_rate: rate("SENTRY_SAMPLE_RATE", 1.0)?,
            });
        }
        // Traces go to OpenTelemetry; Sentry performance transactions would be a second,
        // differently sampled copy of them. Refused rather than silently ignored.
        #[cfg(feature = "sentry")]
        if let Some(value) = env.var("SENTRY_TRACES_SAMPLE_RATE")
            && value.trim().parse::<f32>() != Ok(0.0)
        {
            return Err(invalid(
                "SENTRY_TRACES_SAMPLE_RATE",
                value,
                "0 or unset: teei-obs sends traces to OpenTelemetry (OTEL_TRACES_SAMPLER), \
                 not as Sentry transactions",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Sends errors to Sentry at `dsn` (as `SENTRY_DSN` would).
    #[cfg(feature = "sentry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
    pub fn sentry_dsn(mut self, dsn: &str) -> Result<Self, InitError> {
        let dsn = dsn.parse().map_err(|_| InitError::InvalidEnv {
            variable: "SENTRY_DSN",
            value: dsn.to_owned(),
            expected: "a Sentry DSN: https://<key>@<host>/<project id>",
        })?;
        self.error_tracking.sentry = Some(crate::error_tracking::SentrySettings {
            dsn,
            sample_rate: 1.0,
        });
        Ok(self)
    }

    /// Logs (and sends to Sentry) an error at every `#[traced(err)]` level it passes, as
    /// before one report per error ([`trace::reports`](crate::trace::reports) has the
    /// rule). Process-wide, set by `init`. Every span it passes has status error either way.
    pub fn report_errors_at_every_level(mut self, on: bool) -> Self {
        self.error_tracking.report_every_level = on;
        self
    }
}
