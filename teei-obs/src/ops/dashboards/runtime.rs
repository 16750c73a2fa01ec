//! The process and the Tokio runtime, and the span pipeline.

use super::{Board, Queries};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// The `runtime` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    let process = Board::new(
        &g.uid("runtime"),
        &format!("{service} — runtime and process"),
        ds,
    )
    .row("Process")
    .memory_and_cpu(job)
    .series(
        "Open file descriptors",
        &format!("process_open_fds{{{job}}}"),
        "fds",
        "none",
    )
    .series(
        "Threads",
        &format!("process_threads{{{job}}}"),
        "threads",
        "none",
    )
    .stat(
        "Uptime",
        &format!("time() - process_start_time_seconds{{{job}}}"),
        "uptime",
        "s",
    );
    tokio_and_pipeline(process, q).build(&["teei-obs", service, "runtime"])
}

/// The Tokio runtime's and the span pipeline's rows of the `runtime` dashboard.
fn tokio_and_pipeline(board: Board, q: &Queries<'_>) -> Board {
    let job = &q.job;
    board
        .row("Tokio runtime")
        .series(
            "Workers",
            &format!("{TOKIO_WORKERS}{{{job}}}"),
            "workers",
            "none",
        )
        .series(
            "Alive tasks",
            &format!("{TOKIO_ALIVE_TASKS}{{{job}}}"),
            "tasks",
            "none",
        )
        .series(
            "Global queue depth",
            &format!("{TOKIO_GLOBAL_QUEUE_DEPTH}{{{job}}}"),
            "queued",
            "none",
        )
        .series(
            "Scheduling delay",
            &format!("{TOKIO_SCHEDULING_DELAY_SECONDS}{{{job}}}"),
            "delay",
            "s",
        )
        .row("Telemetry pipeline")
        .series(
            "Spans exported per second",
            &format!("sum(rate({SPANS_EXPORTED_TOTAL}{{{job}}}[5m]))"),
            "exported",
            "ops",
        )
        .series(
            "Spans dropped per second",
            &q.rate(SPANS_DROPPED_TOTAL, "reason", "5m"),
            "{{reason}}",
            "ops",
        )
        .series(
            "Span queue",
            &format!("{SPAN_QUEUE_LENGTH}{{{job}}}"),
            "queued",
            "none",
        )
}
