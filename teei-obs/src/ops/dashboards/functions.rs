//! A row per `#[counted]`/`#[traced]` function.

use super::{Board, Queries};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// The `functions` dashboard.
pub(super) fn board(q: &Queries<'_>) -> serde_json::Value {
    let (g, ds, service) = (q.generator, &q.ds, q.service);
    let mut functions = Board::new(&g.uid("functions"), &format!("{service} — functions"), ds);
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for function in &g.functions {
        let key = (function.module(), function.name());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let counted = g
            .functions
            .iter()
            .find(|f| (f.module(), f.name()) == key && f.metrics().is_some())
            .and_then(|f| f.metrics());
        let traced = g
            .functions
            .iter()
            .find(|f| (f.module(), f.name()) == key && f.traced().is_some())
            .and_then(|f| f.traced());
        functions = functions.row(&format!("{} ({})", function.name(), function.module()));
        let series = g.sel(&format!(
            "function=\"{}\",module=\"{}\"",
            function.name(),
            function.module()
        ));
        if let Some(metrics) = counted {
            functions = functions
                .series(
                    "Calls per second by result",
                    &format!("sum by (result) (rate({FUNCTION_CALLS_TOTAL}{{{series}}}[5m]))"),
                    "{{result}}",
                    "ops",
                )
                .series(
                    "Error share",
                    &format!(
                        "sum(rate({FUNCTION_CALLS_TOTAL}{{{series},result=~\"error|panic\"}}[5m])) / sum(rate({FUNCTION_CALLS_TOTAL}{{{series}}}[5m]))"
                    ),
                    "errors",
                    "percentunit",
                );
            if metrics.buckets().is_some() {
                functions = functions.series(
                    "Duration p95",
                    &format!("histogram_quantile(0.95, sum by (le) (rate(function_calls_duration_seconds_bucket{{{series}}}[5m])))"),
                    "p95",
                    "s",
                );
            }
            if metrics.tracks_concurrency() {
                functions = functions.series(
                    "Concurrent calls",
                    &format!("{FUNCTION_CALLS_CONCURRENT}{{{series}}}"),
                    "in progress",
                    "none",
                );
            }
        }
        if let Some(traced) = traced {
            functions = functions.text(
                "Traces",
                &format!(
                    "Span `{}` (kind `{}`, level `{}`), defined at `{}`. Search your tracing backend for `service.name = {service}` and this span name.",
                    traced.span_name(),
                    traced.kind(),
                    traced.level(),
                    function.location()
                ),
            );
        }
    }
    functions.build(&["teei-obs", service, "functions"])
}
