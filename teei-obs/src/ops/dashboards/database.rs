//! The `db_*` families.

use super::{Board, Queries};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// The `database` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("database"), &format!("{service} — database"), ds)
        .row("Queries")
        .series(
            "Queries per second",
            &q.rate(DB_QUERIES_TOTAL, "operation, table, status", "5m"),
            "{{operation}} {{table}} {{status}}",
            "ops",
        )
        .series(
            "Failing share",
            &format!(
                "sum(rate({DB_QUERIES_TOTAL}{{{}}}[5m])) / sum(rate({DB_QUERIES_TOTAL}{{{job}}}[5m]))",
                g.sel("status=\"error\"")
            ),
            "errors",
            "percentunit",
        )
        .row("Duration")
        .series(
            "p95 by table",
            &q.quantile(0.95, DB_QUERY_DURATION_SECONDS, "operation, table"),
            "{{operation}} {{table}}",
            "s",
        )
        .series(
            "p99 by table",
            &q.quantile(0.99, DB_QUERY_DURATION_SECONDS, "operation, table"),
            "{{operation}} {{table}}",
            "s",
        )
        .build(&["teei-obs", service, "database"])
}
