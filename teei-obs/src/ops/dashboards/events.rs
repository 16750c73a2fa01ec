//! The event bus: processed, published, duration, queues.

use super::{Board, Queries};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// The `events` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("events"), &format!("{service} — event bus"), ds)
        .row("Flow")
        .series(
            "Processed per second",
            &q.rate(EVENTS_PROCESSED_TOTAL, "type, status", "5m"),
            "{{type}} {{status}}",
            "ops",
        )
        .series(
            "Published per second",
            &q.rate(EVENTS_PUBLISHED_TOTAL, "type", "5m"),
            "{{type}}",
            "ops",
        )
        .series(
            "Processing p95",
            &q.quantile(0.95, EVENT_PROCESSING_DURATION_SECONDS, "type"),
            "{{type}}",
            "s",
        )
        .series(
            "Queue size",
            &format!("max by (queue) ({QUEUE_SIZE}{{{job}}})"),
            "{{queue}}",
            "none",
        )
        .build(&["teei-obs", service, "events"])
}
