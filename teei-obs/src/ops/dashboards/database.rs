//! The `db_*` families.

use super::{Board, Queries};

/// The `database` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, job, ds, service) = (q.generator, &q.job, &q.ds, q.service);
    Board::new(&g.uid("database"), &format!("{service} — database"), ds)
        .row("Queries")
        .series(
            "Queries per second",
            &q.rate("db_queries_total", "operation, table, status", "5m"),
            "{{operation}} {{table}} {{status}}",
            "ops",
        )
        .series(
            "Failing share",
            &format!(
                "sum(rate(db_queries_total{{{}}}[5m])) / sum(rate(db_queries_total{{{job}}}[5m]))",
                g.sel("status=\"error\"")
            ),
            "errors",
            "percentunit",
        )
        .row("Duration")
        .series(
            "p95 by table",
            &q.quantile(0.95, "db_query_duration_seconds", "operation, table"),
            "{{operation}} {{table}}",
            "s",
        )
        .series(
            "p99 by table",
            &q.quantile(0.99, "db_query_duration_seconds", "operation, table"),
            "{{operation}} {{table}}",
            "s",
        )
        .build(&["teei-obs", service, "database"])
}
