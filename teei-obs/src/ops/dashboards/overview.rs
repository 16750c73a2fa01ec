//! The service overview: up, health, traffic, errors, latency, function calls, memory, CPU.

use super::{Board, Queries};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// The `overview` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("overview"), &format!("{service} — overview"), ds)
        .row("Service")
        .stat("Up", &format!("up{{{job}}}"), "{{instance}}", "none")
        .stat(
            "Health checks passing",
            &format!("sum({HEALTH_CHECK_STATUS}{{{job}}})"),
            "passing",
            "none",
        )
        .stat(
            "Annotated functions",
            &format!("count(count by (function, module) ({FUNCTION_CALLS_TOTAL}{{{job}}}))"),
            "functions",
            "none",
        )
        .row("Traffic")
        .series(
            "Requests per second",
            &q.rate(HTTP_REQUESTS_TOTAL, "status", "5m"),
            "{{status}}",
            "reqps",
        )
        .series("5xx share", &q.http_errors(), "5xx", "percentunit")
        .series(
            "p95 latency",
            &q.quantile(0.95, HTTP_REQUEST_DURATION_SECONDS, ""),
            "p95",
            "s",
        )
        .series(
            "Function calls per second",
            &q.rate(FUNCTION_CALLS_TOTAL, "function, result", "5m"),
            "{{function}} {{result}}",
            "ops",
        )
        .row("Resources")
        .memory_and_cpu(job)
        .build(&["teei-obs", service, "overview"])
}
