//! The event bus: processed, published, duration, queues.

use super::{Board, Queries};

/// The `events` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("events"), &format!("{service} — event bus"), ds)
        .row("Flow")
        .series(
            "Processed per second",
            &q.rate("events_processed_total", "type, status", "5m"),
            "{{type}} {{status}}",
            "ops",
        )
        .series(
            "Published per second",
            &q.rate("events_published_total", "type", "5m"),
            "{{type}}",
            "ops",
        )
        .series(
            "Processing p95",
            &q.quantile(0.95, "event_processing_duration_seconds", "type"),
            "{{type}}",
            "s",
        )
        .series(
            "Queue size",
            &format!("max by (queue) (queue_size{{{job}}})"),
            "{{queue}}",
            "none",
        )
        .build(&["teei-obs", service, "events"])
}
