//! The dashboards: overview, HTTP, database, event bus, runtime, functions, health.

use serde_json::{Value, json};

use super::Generator;
use super::grafana::Board;

impl Generator {
    /// The dashboards, by file stem.
    pub fn dashboards(&self) -> Vec<(&'static str, Value)> {
        let job = self.sel("");
        let ds = json!({ "type": "prometheus", "uid": self.datasource_uid });
        let service = &self.service;
        let rate = |metric: &str, by: &str, window: &str| {
            format!("sum by ({by}) (rate({metric}{{{job}}}[{window}]))")
        };
        let quantile = |q: f64, metric: &str, by: &str| {
            let by = if by.is_empty() {
                "le".to_owned()
            } else {
                format!("le, {by}")
            };
            format!("histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{{{job}}}[5m])))")
        };
        let http_errors = format!(
            "sum(rate(http_requests_total{{{}}}[5m])) / sum(rate(http_requests_total{{{job}}}[5m]))",
            self.sel("status=~\"5..\"")
        );

        let overview = Board::new(&self.uid("overview"), &format!("{service} — overview"), &ds)
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
                &rate("http_requests_total", "status", "5m"),
                "{{status}}",
                "reqps",
            )
            .series("5xx share", &http_errors, "5xx", "percentunit")
            .series(
                "p95 latency",
                &quantile(0.95, "http_request_duration_seconds", ""),
                "p95",
                "s",
            )
            .series(
                "Function calls per second",
                &rate("function_calls_total", "function, result", "5m"),
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
            .build(&["teei-obs", service, "overview"]);

        let http = Board::new(&self.uid("http"), &format!("{service} — HTTP"), &ds)
            .row("Requests")
            .series(
                "Requests by route",
                &rate("http_requests_total", "method, route", "5m"),
                "{{method}} {{route}}",
                "reqps",
            )
            .series(
                "Requests by status",
                &rate("http_requests_total", "status", "5m"),
                "{{status}}",
                "reqps",
            )
            .series("5xx share", &http_errors, "5xx", "percentunit")
            .series(
                "In flight",
                &format!("http_requests_in_flight{{{job}}}"),
                "in flight",
                "none",
            )
            .row("Latency")
            .series(
                "p50 by route",
                &quantile(0.5, "http_request_duration_seconds", "route"),
                "{{route}}",
                "s",
            )
            .series(
                "p95 by route",
                &quantile(0.95, "http_request_duration_seconds", "route"),
                "{{route}}",
                "s",
            )
            .series(
                "p99 by route",
                &quantile(0.99, "http_request_duration_seconds", "route"),
                "{{route}}",
                "s",
            )
            .row("Sizes")
            .series(
                "Request size p95",
                &quantile(0.95, "http_request_size_bytes", "route"),
                "{{route}}",
                "bytes",
            )
            .series(
                "Response size p95",
                &quantile(0.95, "http_response_size_bytes", "route"),
                "{{route}}",
                "bytes",
            )
            .build(&["teei-obs", service, "http"]);

        let database = Board::new(&self.uid("database"), &format!("{service} — database"), &ds)
            .row("Queries")
            .series("Queries per second", &rate("db_queries_total", "operation, table, status", "5m"), "{{operation}} {{table}} {{status}}", "ops")
            .series(
                "Failing share",
                &format!(
                    "sum(rate(db_queries_total{{{}}}[5m])) / sum(rate(db_queries_total{{{job}}}[5m]))",
                    self.sel("status=\"error\"")
                ),
                "errors",
                "percentunit",
            )
            .row("Duration")
            .series("p95 by table", &quantile(0.95, "db_query_duration_seconds", "operation, table"), "{{operation}} {{table}}", "s")
            .series("p99 by table", &quantile(0.99, "db_query_duration_seconds", "operation, table"), "{{operation}} {{table}}", "s")
            .build(&["teei-obs", service, "database"]);

        let events = Board::new(&self.uid("events"), &format!("{service} — event bus"), &ds)
            .row("Flow")
            .series(
                "Processed per second",
                &rate("events_processed_total", "type, status", "5m"),
                "{{type}} {{status}}",
                "ops",
            )
            .series(
                "Published per second",
                &rate("events_published_total", "type", "5m"),
                "{{type}}",
                "ops",
            )
            .series(
                "Processing p95",
                &quantile(0.95, "event_processing_duration_seconds", "type"),
                "{{type}}",
                "s",
            )
            .series(
                "Queue size",
                &format!("max by (queue) (queue_size{{{job}}})"),
                "{{queue}}",
                "none",
            )
            .build(&["teei-obs", service, "events"]);

        let runtime = Board::new(
            &self.uid("runtime"),
            &format!("{service} — runtime and process"),
            &ds,
        )
        .row("Process")
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
        )
        .row("Tokio runtime")
        .series(
            "Workers",
            &format!("tokio_workers{{{job}}}"),
            "workers",
            "none",
        )
        .series(
            "Alive tasks",
            &format!("tokio_alive_tasks{{{job}}}"),
            "tasks",
            "none",
        )
        .series(
            "Global queue depth",
            &format!("tokio_global_queue_depth{{{job}}}"),
            "queued",
            "none",
        )
        .series(
            "Scheduling delay",
            &format!("tokio_scheduling_delay_seconds{{{job}}}"),
            "delay",
            "s",
        )
        .row("Telemetry pipeline")
        .series(
            "Spans exported per second",
            &format!("sum(rate(teei_obs_spans_exported_total{{{job}}}[5m]))"),
            "exported",
            "ops",
        )
        .series(
            "Spans dropped per second",
            &rate("teei_obs_spans_dropped_total", "reason", "5m"),
            "{{reason}}",
            "ops",
        )
        .series(
            "Span queue",
            &format!("teei_obs_span_queue_length{{{job}}}"),
            "queued",
            "none",
        )
        .build(&["teei-obs", service, "runtime"]);

        let mut functions = Board::new(
            &self.uid("functions"),
            &format!("{service} — functions"),
            &ds,
        );
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for function in &self.functions {
            let key = (function.module(), function.name());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let counted = self
                .functions
                .iter()
                .find(|f| (f.module(), f.name()) == key && f.metrics().is_some())
                .and_then(|f| f.metrics());
            let traced = self
                .functions
                .iter()
                .find(|f| (f.module(), f.name()) == key && f.traced().is_some())
                .and_then(|f| f.traced());
            functions = functions.row(&format!("{} ({})", function.name(), function.module()));
            let series = self.sel(&format!(
                "function=\"{}\",module=\"{}\"",
                function.name(),
                function.module()
            ));
            if let Some(metrics) = counted {
                functions = functions
                    .series(
                        "Calls per second by result",
                        &format!("sum by (result) (rate(function_calls_total{{{series}}}[5m]))"),
                        "{{result}}",
                        "ops",
                    )
                    .series(
                        "Error share",
                        &format!(
                            "sum(rate(function_calls_total{{{series},result=~\"error|panic\"}}[5m])) / sum(rate(function_calls_total{{{series}}}[5m]))"
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
                        &format!("function_calls_concurrent{{{series}}}"),
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
        let functions = functions.build(&["teei-obs", service, "functions"]);

        let mut health = Board::new(
            &self.uid("health"),
            &format!("{service} — health checks"),
            &ds,
        )
        .row("All checks")
        .series(
            "Passing (1) / failing (0)",
            &format!("health_check_status{{{job}}}"),
            "{{name}}",
            "none",
        );
        for check in &self.checks {
            let series = self.sel(&format!("name=\"{}\"", check.name()));
            health = health
                .row(&format!(
                    "{} ({}, {}, every {:?}, timeout {:?})",
                    check.name(),
                    check.kind().as_str(),
                    if check.critical() { "critical" } else { "not critical" },
                    check.interval(),
                    check.timeout()
                ))
                .stat("Status", &format!("health_check_status{{{series}}}"), "status", "none")
                .series(
                    "Check duration p95",
                    &format!("histogram_quantile(0.95, sum by (le) (rate(health_check_duration_seconds_bucket{{{series}}}[5m])))"),
                    "p95",
                    "s",
                );
        }
        let health = health.build(&["teei-obs", service, "health"]);

        vec![
            ("overview", overview),
            ("http", http),
            ("database", database),
            ("events", events),
            ("runtime", runtime),
            ("functions", functions),
            ("health", health),
        ]
    }
}
