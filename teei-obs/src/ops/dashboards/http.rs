//! API gateway / HTTP: per route and status.

use super::{Board, Queries};

/// The `http` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("http"), &format!("{service} — HTTP"), ds)
        .row("Requests")
        .series(
            "Requests by route",
            &q.rate("http_requests_total", "method, route", "5m"),
            "{{method}} {{route}}",
            "reqps",
        )
        .series(
            "Requests by status",
            &q.rate("http_requests_total", "status", "5m"),
            "{{status}}",
            "reqps",
        )
        .series("5xx share", &q.http_errors(), "5xx", "percentunit")
        .series(
            "In flight",
            &format!("http_requests_in_flight{{{job}}}"),
            "in flight",
            "none",
        )
        .row("Latency")
        .series(
            "p50 by route",
            &q.quantile(0.5, "http_request_duration_seconds", "route"),
            "{{route}}",
            "s",
        )
        .series(
            "p95 by route",
            &q.quantile(0.95, "http_request_duration_seconds", "route"),
            "{{route}}",
            "s",
        )
        .series(
            "p99 by route",
            &q.quantile(0.99, "http_request_duration_seconds", "route"),
            "{{route}}",
            "s",
        )
        .row("Sizes")
        .series(
            "Request size p95",
            &q.quantile(0.95, "http_request_size_bytes", "route"),
            "{{route}}",
            "bytes",
        )
        .series(
            "Response size p95",
            &q.quantile(0.95, "http_response_size_bytes", "route"),
            "{{route}}",
            "bytes",
        )
        .build(&["teei-obs", service, "http"])
}
