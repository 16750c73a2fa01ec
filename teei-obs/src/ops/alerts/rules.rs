//! The rule tables: each alert a [`Spec`] — name, expression, `for`, severity, texts,
//! runbook, dashboard — grouped by what it watches.

use super::{Alert, Runbook, Severity, budget_exhaustion, format_number};
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;
use crate::ops::Generator;

impl Generator {
    /// The alerting rules: the standard ones, one per health check, and burn-rate alerts
    /// for every objective.
    pub fn alerts(&self) -> Vec<Alert> {
        let rules = Rules::new(self);
        let mut alerts = rules.traffic();
        alerts.extend(rules.dependencies());
        alerts.extend(rules.resources());
        alerts.extend(rules.checks());
        alerts.extend(rules.objectives());
        alerts
    }
}

/// One alert, field by field: what the tables below are made of.
struct Spec<'a> {
    name: &'a str,
    expr: String,
    for_: &'static str,
    severity: Severity,
    summary: String,
    description: String,
    runbook: Runbook,
    /// The uid of the dashboard to link.
    dashboard: &'a str,
}

impl Spec<'_> {
    fn build(self) -> Alert {
        Alert {
            name: self.name.to_owned(),
            expr: self.expr,
            for_: self.for_,
            severity: self.severity,
            labels: Vec::new(),
            summary: self.summary,
            description: self.description,
            runbook: self.runbook,
            dashboard: self.dashboard.to_owned(),
        }
    }
}

/// What the rule tables select by, over the generator they are made for.
struct Rules<'a> {
    generator: &'a Generator,
    /// The label selector of the service's series (`job="…"`).
    selector: String,
    overview: String,
    http: String,
}

impl std::ops::Deref for Rules<'_> {
    type Target = Generator;

    fn deref(&self) -> &Generator {
        self.generator
    }
}

impl<'a> Rules<'a> {
    fn new(generator: &'a Generator) -> Self {
        Rules {
            generator,
            selector: generator.sel(""),
            overview: generator.uid("overview"),
            http: generator.uid("http"),
        }
    }

    /// The share of 5xx answers over 5 minutes.
    fn errors(&self) -> String {
        let job = &self.selector;
        format!(
            "sum(rate({HTTP_REQUESTS_TOTAL}{{{}}}[5m])) / sum(rate({HTTP_REQUESTS_TOTAL}{{{job}}}[5m]))",
            self.sel("status=~\"5..\"")
        )
    }

    /// The 95th percentile of histogram `metric` over 5 minutes.
    fn p95(&self, metric: &str) -> String {
        let job = &self.selector;
        format!("histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{job}}}[5m])))")
    }

    /// Down, error rates and latency of the service's own traffic.
    fn traffic(&self) -> Vec<Alert> {
        let (t, job, service) = (&self.thresholds, &self.selector, &self.service);
        let (overview, http) = (&self.overview, &self.http);
        let errors = self.errors();
        vec![
            Spec {
                name: "ServiceDown",
                expr: format!("up{{{job}}} == 0"),
                for_: "1m",
                severity: Severity::Critical,
                summary: format!("{service} is down"),
                description: format!(
                    "Prometheus cannot scrape {service} ({{{{ $labels.instance }}}}) for 1 minute."
                ),
                runbook: Runbook::ServiceDown,
                dashboard: overview,
            }
            .build(),
            Spec {
                name: "HighErrorRate",
                expr: format!("{errors} > {}", t.error_ratio_critical),
                for_: "5m",
                severity: Severity::Critical,
                summary: format!(
                    "{service} answers more than {}% of requests with 5xx",
                    t.error_ratio_critical * 100.0
                ),
                description: "5xx share over 5 minutes: {{ $value | humanizePercentage }}.".into(),
                runbook: Runbook::HighErrorRate,
                dashboard: http,
            }
            .build(),
            Spec {
                name: "ElevatedErrorRate",
                expr: format!("{errors} > {}", t.error_ratio_warning),
                for_: "10m",
                severity: Severity::Warning,
                summary: format!(
                    "{service} answers more than {}% of requests with 5xx",
                    t.error_ratio_warning * 100.0
                ),
                description: "5xx share over 5 minutes: {{ $value | humanizePercentage }}.".into(),
                runbook: Runbook::HighErrorRate,
                dashboard: http,
            }
            .build(),
            Spec {
                name: "HighLatency",
                expr: format!(
                    "{} > {}",
                    self.p95(HTTP_REQUEST_DURATION_SECONDS),
                    t.latency_p95_warning
                ),
                for_: "10m",
                severity: Severity::Warning,
                summary: format!("{service} p95 latency above {} s", t.latency_p95_warning),
                description: "p95 request latency: {{ $value | humanizeDuration }}.".into(),
                runbook: Runbook::HighLatency,
                dashboard: http,
            }
            .build(),
            Spec {
                name: "VeryHighLatency",
                expr: format!(
                    "{} > {}",
                    self.p95(HTTP_REQUEST_DURATION_SECONDS),
                    t.latency_p95_critical
                ),
                for_: "5m",
                severity: Severity::Critical,
                summary: format!("{service} p95 latency above {} s", t.latency_p95_critical),
                description: "p95 request latency: {{ $value | humanizeDuration }}.".into(),
                runbook: Runbook::HighLatency,
                dashboard: http,
            }
            .build(),
        ]
    }

    /// The database and the event bus.
    fn dependencies(&self) -> Vec<Alert> {
        let (t, job, service) = (&self.thresholds, &self.selector, &self.service);
        vec![
            Spec {
                name: "DatabaseSlow",
                expr: format!(
                        "{} > {}",
                        self.p95(DB_QUERY_DURATION_SECONDS),
                        t.db_p95_warning
                    ),
                for_: "10m",
                severity: Severity::Warning,
                summary: format!(
                        "{service} database queries slow (p95 above {} s)",
                        t.db_p95_warning
                    ),
                description: "p95 query duration: {{ $value | humanizeDuration }}.".into(),
                runbook: Runbook::Database,
                dashboard: &self.uid("database"),
            }
            .build(),
            Spec {
                name: "DatabaseErrors",
                expr: format!(
                        "sum(rate({DB_QUERIES_TOTAL}{{{}}}[5m])) / sum(rate({DB_QUERIES_TOTAL}{{{job}}}[5m])) > {}",
                        self.sel("status=\"error\""),
                        t.db_error_ratio_critical
                    ),
                for_: "5m",
                severity: Severity::Critical,
                summary: format!("{service} database queries failing"),
                description: "Failing share of queries: {{ $value | humanizePercentage }}.".into(),
                runbook: Runbook::Database,
                dashboard: &self.uid("database"),
            }
            .build(),
            Spec {
                name: "EventBacklog",
                expr: format!(
                        "max by (queue) ({QUEUE_SIZE}{{{job}}}) > {}",
                        t.queue_backlog_warning
                    ),
                for_: "10m",
                severity: Severity::Warning,
                summary: format!("{service} queue {{{{ $labels.queue }}}} is backing up"),
                description: "{{ $value }} messages waiting.".into(),
                runbook: Runbook::EventBacklog,
                dashboard: &self.uid("events"),
            }
            .build(),
            Spec {
                name: "EventProcessingErrors",
                expr: format!(
                        "sum(rate({EVENTS_PROCESSED_TOTAL}{{{}}}[5m])) / sum(rate({EVENTS_PROCESSED_TOTAL}{{{job}}}[5m])) > {}",
                        self.sel("status=\"error\""),
                        t.event_error_ratio_critical
                    ),
                for_: "5m",
                severity: Severity::Critical,
                summary: format!("{service} fails to process events"),
                description: "Failing share of events: {{ $value | humanizePercentage }}.".into(),
                runbook: Runbook::EventBacklog,
                dashboard: &self.uid("events"),
            }
            .build(),
        ]
    }

    /// Memory, CPU and the async runtime's scheduling delay.
    fn resources(&self) -> Vec<Alert> {
        let (t, job, service) = (&self.thresholds, &self.selector, &self.service);
        vec![
            Spec {
                name: "HighMemory",
                expr: format!(
                    "process_resident_memory_bytes{{{job}}} > {}",
                    t.memory_bytes_warning
                ),
                for_: "10m",
                severity: Severity::Warning,
                summary: format!("{service} uses a lot of memory"),
                description: "Resident memory: {{ $value | humanize1024 }}B.".into(),
                runbook: Runbook::ResourcePressure,
                dashboard: &self.uid("runtime"),
            }
            .build(),
            Spec {
                name: "HighCpu",
                expr: format!(
                    "rate(process_cpu_seconds_total{{{job}}}[5m]) > {}",
                    t.cpu_cores_warning
                ),
                for_: "15m",
                severity: Severity::Warning,
                summary: format!("{service} CPU use is high"),
                description: "CPU: {{ $value }} cores.".into(),
                runbook: Runbook::ResourcePressure,
                dashboard: &self.uid("runtime"),
            }
            .build(),
            Spec {
                name: "RuntimeSchedulingDelay",
                expr: format!(
                    "{TOKIO_SCHEDULING_DELAY_SECONDS}{{{job}}} > {}",
                    t.scheduling_delay_warning
                ),
                for_: "5m",
                severity: Severity::Warning,
                summary: format!("{service} async runtime is overloaded"),
                description: "A 1 s timer fires {{ $value | humanizeDuration }} late.".into(),
                runbook: Runbook::ResourcePressure,
                dashboard: &self.uid("runtime"),
            }
            .build(),
        ]
    }

    /// One rule per `#[health_check]`, with the check's severity.
    fn checks(&self) -> Vec<Alert> {
        let service = &self.service;

        let mut alerts = Vec::new();
        for check in &self.checks {
            let severity = if check.critical() {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let mut rule = Spec {
                name: "DependencyHealthFailing",
                expr: format!(
                    "{HEALTH_CHECK_STATUS}{{{}}} == 0",
                    self.sel(&format!("name=\"{}\"", check.name()))
                ),
                for_: "2m",
                severity,
                summary: format!("{service}: health check {} failing", check.name()),
                description: format!(
                    "The {} check {} of {service} has failed for 2 minutes{}.",
                    check.kind().as_str(),
                    check.name(),
                    if check.critical() {
                        "; the service reports unready"
                    } else {
                        "; the service reports degraded"
                    }
                ),
                runbook: Runbook::DependencyHealth,
                dashboard: &self.uid("health"),
            }
            .build();
            rule.labels.push(("check", check.name().to_owned()));
            alerts.push(rule);
        }
        alerts
    }

    /// Multi-window burn-rate rules for every function with an objective.
    fn objectives(&self) -> Vec<Alert> {
        let service = &self.service;

        let mut alerts = Vec::new();
        for function in self.counted() {
            let Some(objective) = function.metrics().and_then(|m| m.objective()) else {
                continue;
            };
            let series = self.sel(&format!(
                "function=\"{}\",module=\"{}\"",
                function.name(),
                function.module()
            ));
            let mut burn = |kind: &str, ratio: &dyn Fn(&str) -> String, target: f64| {
                let budget = 1.0 - target;
                // The multi-window, multi-burn-rate alerts of the SRE workbook.
                for (speed, long, short, rate, for_, severity) in [
                    ("Fast", "1h", "5m", 14.4, "2m", Severity::Critical),
                    ("Slow", "6h", "30m", 6.0, "15m", Severity::Warning),
                ] {
                    let threshold = format_number(rate * budget);
                    let mut rule = Spec {
                        name: &format!("{kind}BudgetBurn{speed}"),
                        expr: format!(
                            "({}) > {threshold} and ({}) > {threshold}",
                            ratio(long),
                            ratio(short)
                        ),
                        for_,
                        severity,
                        summary: format!(
                            "{service}: {} burns its {} budget {rate}x too fast",
                            function.name(),
                            kind.to_lowercase()
                        ),
                        description: format!(
                            "At this rate the {} objective of {} ({}) is spent in {}.",
                            kind.to_lowercase(),
                            function.name(),
                            format_number(target * 100.0) + "%",
                            budget_exhaustion(rate)
                        ),
                        runbook: Runbook::ErrorBudgetBurn,
                        dashboard: &self.uid("functions"),
                    }
                    .build();
                    rule.labels.push(("function", function.name().to_owned()));
                    alerts.push(rule);
                }
            };
            if let Some(success) = objective.success() {
                let errors = |window: &str| {
                    format!(
                        "sum(rate({FUNCTION_CALLS_TOTAL}{{{series},result=~\"error|panic\"}}[{window}])) / sum(rate({FUNCTION_CALLS_TOTAL}{{{series}}}[{window}]))"
                    )
                };
                burn("Error", &errors, success);
            }
            if let Some((threshold, within)) = objective.latency() {
                let le = format_number(threshold);
                let slow = |window: &str| {
                    format!(
                        "1 - sum(rate(function_calls_duration_seconds_bucket{{{series},le=\"{le}\"}}[{window}])) / sum(rate(function_calls_duration_seconds_count{{{series}}}[{window}]))"
                    )
                };
                burn("Latency", &slow, within);
            }
        }
        alerts
    }
}
