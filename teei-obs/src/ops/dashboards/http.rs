//! API gateway / HTTP: per route and status.

use super::{Board, Queries};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// The `http` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("http"), &format!("{service} — HTTP"), ds)
        .row("Requests")
        .series(
            "Requests by route",
            &q.rate(HTTP_REQUESTS_TOTAL, "method, route", "5m"),
            "{{method}} {{route}}",
            "reqps",
        )
        .series(
            "Requests by status",
            &q.rate(HTTP_REQUESTS_TOTAL, "status", "5m"),
            "{{status}}",
            "reqps",
        )
        .series("5xx share", &q.http_errors(), "5xx", "percentunit")
        .series(
            "In flight",
            &format!("{HTTP_REQUESTS_IN_FLIGHT}{{{job}}}"),
            "in flight",
            "none",
        )
        .row("Latency")
        .series(
            "p50 by route",
            &q.quantile(0.5, HTTP_REQUEST_DURATION_SECONDS, "route"),
            "{{route}}",
            "s",
        )
        .series(
            "p95 by route",
            &q.quantile(0.95, HTTP_REQUEST_DURATION_SECONDS, "route"),
            "{{route}}",
            "s",
        )
        .series(
            "p99 by route",
            &q.quantile(0.99, HTTP_REQUEST_DURATION_SECONDS, "route"),
            "{{route}}",
            "s",
        )
        .row("Sizes")
        .series(
            "Request size p95",
            &q.quantile(0.95, HTTP_REQUEST_SIZE_BYTES, "route"),
            "{{route}}",
            "bytes",
        )
        .series(
            "Response size p95",
            &q.quantile(0.95, HTTP_RESPONSE_SIZE_BYTES, "route"),
            "{{route}}",
            "bytes",
        )
        .build(&["teei-obs", service, "http"])
}
