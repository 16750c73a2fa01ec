//! The alert rules: the TypeScript runbooks' thresholds, one rule per health check, burn-rate
//! alerts per objective (the tables in `rules`), and their `prometheus/rules.yml`.

mod rules;

use std::fmt::Write as _;

use super::{Generator, quote};
use crate::registry::FunctionEntry;

/// Alert thresholds of the standard rules; the defaults are the TypeScript runbooks'.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// 5xx share of requests that pages (critical), over 5 minutes.
    pub error_ratio_critical: f64,
    /// 5xx share that warns, over 10 minutes.
    pub error_ratio_warning: f64,
    /// p95 request latency (seconds) that warns.
    pub latency_p95_warning: f64,
    /// p95 request latency (seconds) that pages.
    pub latency_p95_critical: f64,
    /// p95 database query duration (seconds) that warns.
    pub db_p95_warning: f64,
    /// Share of failing database queries that pages.
    pub db_error_ratio_critical: f64,
    /// Messages waiting in one queue that warn.
    pub queue_backlog_warning: f64,
    /// Share of failing event handlings that pages.
    pub event_error_ratio_critical: f64,
    /// Resident memory (bytes) that warns.
    pub memory_bytes_warning: f64,
    /// CPU use (cores) that warns.
    pub cpu_cores_warning: f64,
    /// Scheduling delay of the async runtime (seconds) that warns.
    pub scheduling_delay_warning: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            error_ratio_critical: 0.05,
            error_ratio_warning: 0.01,
            latency_p95_warning: 1.0,
            latency_p95_critical: 2.5,
            db_p95_warning: 0.5,
            db_error_ratio_critical: 0.05,
            queue_backlog_warning: 1000.0,
            event_error_ratio_critical: 0.05,
            memory_bytes_warning: 1.5 * 1024.0 * 1024.0 * 1024.0,
            cpu_cores_warning: 0.9,
            scheduling_delay_warning: 0.1,
        }
    }
}

/// The runbooks the alerts point at (`docs/runbooks/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Runbook {
    /// RB-001: the service is down or not scraped.
    ServiceDown,
    /// RB-002: too many requests fail.
    HighErrorRate,
    /// RB-003: requests are slow.
    HighLatency,
    /// RB-004: the database is slow or failing.
    Database,
    /// RB-005: events pile up or fail.
    EventBacklog,
    /// RB-006: memory, CPU or runtime pressure.
    ResourcePressure,
    /// RB-007: a dependency health check fails.
    DependencyHealth,
    /// RB-008: a function burns its error or latency budget.
    ErrorBudgetBurn,
}

impl Runbook {
    /// Every runbook.
    pub const ALL: [Runbook; 8] = [
        Runbook::ServiceDown,
        Runbook::HighErrorRate,
        Runbook::HighLatency,
        Runbook::Database,
        Runbook::EventBacklog,
        Runbook::ResourcePressure,
        Runbook::DependencyHealth,
        Runbook::ErrorBudgetBurn,
    ];

    /// The file name under `docs/runbooks/`, e.g. `RB-001-service-down.md`.
    pub fn file(self) -> &'static str {
        match self {
            Runbook::ServiceDown => "RB-001-service-down.md",
            Runbook::HighErrorRate => "RB-002-high-error-rate.md",
            Runbook::HighLatency => "RB-003-high-latency.md",
            Runbook::Database => "RB-004-database.md",
            Runbook::EventBacklog => "RB-005-event-backlog.md",
            Runbook::ResourcePressure => "RB-006-resource-pressure.md",
            Runbook::DependencyHealth => "RB-007-dependency-health.md",
            Runbook::ErrorBudgetBurn => "RB-008-error-budget-burn.md",
        }
    }
}

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Page someone now.
    Critical,
    /// Look at it during working hours.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// One alerting rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The alert's name.
    pub name: String,
    /// Its PromQL expression.
    pub expr: String,
    /// How long the expression must hold before the alert fires (`1m`, `5m`, …).
    pub for_: &'static str,
    /// Its severity label.
    pub severity: Severity,
    /// Extra labels (e.g. `check`, `function`).
    pub labels: Vec<(&'static str, String)>,
    /// One line saying what is wrong.
    pub summary: String,
    /// What the alert means, with the values templated in.
    pub description: String,
    /// The runbook it points at.
    pub runbook: Runbook,
    /// The uid of the dashboard to open.
    pub dashboard: String,
}

impl Generator {
    /// The counted functions, in the registry's order.
    pub(super) fn counted(&self) -> impl Iterator<Item = &&'static FunctionEntry> {
        self.functions.iter().filter(|f| f.metrics().is_some())
    }

    pub(super) fn rules_yaml(&self) -> String {
        let mut out = format!(
            "# Generated by teei-obs for the service {:?} (job {:?}); regenerate, do not edit.\n\
             # Runbooks: docs/runbooks/. Check with: promtool check rules <this file>\n\
             groups:\n  - name: {}\n    rules:\n",
            self.service,
            self.job,
            quote(&format!("teei-obs:{}", self.service))
        );
        for alert in self.alerts() {
            let _ = writeln!(out, "      - alert: {}", alert.name);
            let _ = writeln!(out, "        expr: {}", quote(&alert.expr));
            let _ = writeln!(out, "        for: {}", alert.for_);
            let _ = writeln!(out, "        labels:");
            let _ = writeln!(out, "          severity: {}", alert.severity.as_str());
            let _ = writeln!(out, "          service: {}", quote(&self.service));
            for (name, value) in &alert.labels {
                let _ = writeln!(out, "          {name}: {}", quote(value));
            }
            let _ = writeln!(out, "        annotations:");
            let _ = writeln!(out, "          summary: {}", quote(&alert.summary));
            let _ = writeln!(out, "          description: {}", quote(&alert.description));
            let _ = writeln!(
                out,
                "          runbook_url: {}",
                quote(&format!("{}/{}", self.runbook_base, alert.runbook.file()))
            );
            let _ = writeln!(out, "          dashboard: {}", quote(&alert.dashboard));
        }
        out
    }
}

/// A number as PromQL and Prometheus' `le` labels write it (`0.25`, `1`, `0.0144`).
pub(super) fn format_number(value: f64) -> String {
    // Round off binary noise such as 14.4 * 0.001 = 0.014400000000000001.
    let rounded = (value * 1e12).round() / 1e12;
    format!("{rounded}")
}

pub(super) fn budget_exhaustion(rate: f64) -> String {
    // A 30-day budget.
    let hours = 30.0 * 24.0 / rate;
    if hours < 48.0 {
        format!("{} hours", format_number((hours * 10.0).round() / 10.0))
    } else {
        format!(
            "{} days",
            format_number((hours / 24.0 * 10.0).round() / 10.0)
        )
    }
}
