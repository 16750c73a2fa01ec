//! A row per `#[health_check]`.

use super::{Board, Queries};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// The `health` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    let mut health = Board::new(&g.uid("health"), &format!("{service} — health checks"), ds)
        .row("All checks")
        .series(
            "Passing (1) / failing (0)",
            &format!("{HEALTH_CHECK_STATUS}{{{job}}}"),
            "{{name}}",
            "none",
        );
    for check in &g.checks {
        let series = g.sel(&format!("name=\"{}\"", check.name()));
        health = health
            .row(&format!(
                "{} ({}, {}, every {:?}, timeout {:?})",
                check.name(),
                check.kind().as_str(),
                if check.critical() { "critical" } else { "not critical" },
                check.interval(),
                check.timeout()
            ))
            .stat("Status", &format!("{HEALTH_CHECK_STATUS}{{{series}}}"), "status", "none")
            .series(
                "Check duration p95",
                &format!("histogram_quantile(0.95, sum by (le) (rate(health_check_duration_seconds_bucket{{{series}}}[5m])))"),
                "p95",
                "s",
            );
    }
    health.build(&["teei-obs", service, "health"])
}
