//! The service overview: up, health, traffic, errors, latency, function calls, memory, CPU.

use super::{Board, Queries};

/// The `overview` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("overview"), &format!("{service} — overview"), ds)
        .row("Service")
        .stat("Up", &format!("up{{{job}}}"), "{{instance}}", "none")
        .stat(
            "Health checks passing",
            &format!("sum(health_check_status{{{job}}})"),
            "passing",
            "none",
        )
        .stat(
            "Annotated functions",
            &format!("count(count by (function, module) (function_calls_total{{{job}}}))"),
            "functions",
            "none",
        )
        .row("Traffic")
        .series(
            "Requests per second",
            &q.rate("http_requests_total", "status", "5m"),
            "{{status}}",
            "reqps",
        )
        .series("5xx share", &q.http_errors(), "5xx", "percentunit")
        .series(
            "p95 latency",
            &q.quantile(0.95, "http_request_duration_seconds", ""),
            "p95",
            "s",
        )
        .series(
            "Function calls per second",
            &q.rate("function_calls_total", "function, result", "5m"),
            "{{function}} {{result}}",
            "ops",
        )
        .row("Resources")
        .series(
            "Resident memory",
            &format!("process_resident_memory_bytes{{{job}}}"),
            "rss",
            "bytes",
        )
        .series(
            "CPU",
            &format!("rate(process_cpu_seconds_total{{{job}}}[5m])"),
            "cores",
            "none",
        )
        .build(&["teei-obs", service, "overview"])
}
