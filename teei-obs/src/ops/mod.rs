//! Dashboards, alert rules and Grafana provisioning, generated from the registry: exact for
//! the service that runs, nothing to import by hand.
//!
//! [`Generator::files`] returns, for one service (its Prometheus `job` is its name unless
//! told otherwise):
//!
//! | file | what |
//! |---|---|
//! | `dashboards/overview.json` | service overview: up, traffic, errors, latency, health |
//! | `dashboards/http.json` | API gateway / HTTP: per route and status |
//! | `dashboards/database.json` | `db_*` families |
//! | `dashboards/events.json` | event bus: processed, published, duration, queues |
//! | `dashboards/runtime.json` | process and Tokio runtime, span pipeline |
//! | `dashboards/functions.json` | a row per `#[counted]`/`#[traced]` function |
//! | `dashboards/health.json` | a row per `#[health_check]` |
//! | `provisioning/datasources/teei-obs.yaml` | the Prometheus datasource the dashboards use |
//! | `provisioning/dashboards/teei-obs.yaml` | a dashboard provider for `dashboards/` |
//! | `prometheus/rules.yml` | alerting rules, each with a `runbook_url` |
//! | `kubernetes/*.yaml` | Deployment (probes timed from the checks), ConfigMap, Service, PodDisruptionBudget, ServiceMonitor, PrometheusRule, dashboard ConfigMaps, kustomization: see [`kubernetes`] |
//!
//! The rules are the TypeScript runbooks' (service down, error rate, latency, database,
//! event backlog, memory/CPU, dependency health), one per `#[health_check]` with its
//! severity from `critical`, and multi-window burn-rate alerts for every function with a
//! `#[counted(objective(..))]`. The runbooks are `docs/runbooks/RB-00N-*.md`.
//!
//! Opt-in, with the `ops` feature: a service that does not generate them links none of
//! it. The generator reads no command line and no environment — its output depends on the
//! registry and the builder's settings alone; the example platform's services read
//! `--generate-ops DIR` and `TEEI_RUNBOOK_BASE_URL` themselves (`service::generate_ops_if_asked`).
//!
//! ```
//! let obs = teei_obs::init(teei_obs::Config::new("checkout").install_subscriber(false)).unwrap();
//! let files = teei_obs::ops::Generator::new(&obs).files();
//! let rules = &files.iter().find(|f| f.path == "prometheus/rules.yml").unwrap().contents;
//! assert!(rules.contains(r#"expr: "up{job=\"checkout\"} == 0""#));
//! assert!(rules.contains("runbook_url"));
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::health::CheckEntry;
use crate::registry::FunctionEntry;

pub mod kubernetes;

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

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Path relative to the output directory, with `/` separators.
    pub path: String,
    /// The contents.
    pub contents: String,
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

/// Generates the files for one service from the registry.
#[derive(Clone, Debug)]
pub struct Generator {
    service: String,
    job: String,
    datasource_uid: String,
    prometheus_url: String,
    runbook_base: String,
    thresholds: Thresholds,
    functions: Vec<&'static FunctionEntry>,
    checks: Vec<&'static CheckEntry>,
    image: String,
    port: u16,
    replicas: u32,
    collector: String,
    drain_delay: std::time::Duration,
    flush_bound: std::time::Duration,
    env: Vec<(String, String)>,
}

/// The environment variable by which a service conventionally sets where runbook links
/// point. The generator reads no environment (its output depends on its inputs alone):
/// the caller reads it and passes it to [`Generator::runbook_base`].
pub const RUNBOOK_BASE_VAR: &str = "TEEI_RUNBOOK_BASE_URL";

/// Where runbook links point unless [`Generator::runbook_base`] says otherwise: the
/// project's repository.
pub const DEFAULT_RUNBOOK_BASE: &str = "https://example.invalid/teei-obs/blob/main/docs/runbooks";

impl Generator {
    /// For the service `obs` runs, with its registry. The Prometheus job is the service
    /// name; runbook links point at [`DEFAULT_RUNBOOK_BASE`].
    pub fn new(obs: &crate::Obs) -> Generator {
        let mut generator = Generator::for_registry(obs.service_name());
        generator.drain_delay = obs.config().drain_delay;
        generator.flush_bound = obs.config().shutdown_timeout;
        generator
    }

    /// For `service`, from the registry of this binary (no `init` needed).
    pub fn for_registry(service: &str) -> Generator {
        let mut functions: Vec<_> = crate::registry::functions().collect();
        functions.sort_by_key(|f| (f.module(), f.name(), f.location().line));
        let mut checks: Vec<_> = crate::health::checks().collect();
        checks.sort_by_key(|c| c.name());
        Generator {
            service: service.to_owned(),
            job: service.to_owned(),
            datasource_uid: "prometheus".to_owned(),
            prometheus_url: "http://127.0.0.1:9090".to_owned(),
            runbook_base: DEFAULT_RUNBOOK_BASE.to_owned(),
            thresholds: Thresholds::default(),
            functions,
            checks,
            image: format!("{service}:latest"),
            port: 8080,
            replicas: 2,
            collector: kubernetes::COLLECTOR.to_owned(),
            drain_delay: std::time::Duration::from_secs(5),
            flush_bound: std::time::Duration::from_secs(5),
            env: Vec::new(),
        }
    }

    /// Adds `name=value` to the environment of the service's pods (its ConfigMap).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The container image of the Deployment (default `<service>:latest`).
    pub fn image(mut self, image: &str) -> Self {
        self.image = image.to_owned();
        self
    }

    /// The port the service listens on in its pod (default 8080).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The Deployment's replicas (default 2).
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    /// Where the pods send spans (default [`kubernetes::COLLECTOR`]).
    pub fn collector(mut self, endpoint: &str) -> Self {
        self.collector = endpoint.to_owned();
        self
    }

    /// The Prometheus `job` label of the service's scrape (default: the service name).
    pub fn job(mut self, job: &str) -> Self {
        self.job = job.to_owned();
        self
    }

    /// The uid of the provisioned Prometheus datasource (default `prometheus`).
    pub fn datasource_uid(mut self, uid: &str) -> Self {
        self.datasource_uid = uid.to_owned();
        self
    }

    /// The Prometheus URL Grafana uses (default `http://127.0.0.1:9090`).
    pub fn prometheus_url(mut self, url: &str) -> Self {
        self.prometheus_url = url.to_owned();
        self
    }

    /// Where runbook links point: `{base}/RB-001-service-down.md`, ….
    pub fn runbook_base(mut self, base: &str) -> Self {
        self.runbook_base = base.trim_end_matches('/').to_owned();
        self
    }

    /// The alert thresholds.
    pub fn thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// Every file, in a fixed order, with deterministic contents.
    pub fn files(&self) -> Vec<File> {
        let mut files: Vec<File> = self
            .dashboards()
            .into_iter()
            .map(|(name, dashboard)| File {
                path: format!("dashboards/{name}.json"),
                contents: serde_json::to_string_pretty(&dashboard).unwrap_or_default() + "\n",
            })
            .collect();
        files.push(File {
            path: "provisioning/datasources/teei-obs.yaml".into(),
            contents: self.datasource_provisioning(),
        });
        files.push(File {
            path: "provisioning/dashboards/teei-obs.yaml".into(),
            contents: self.dashboard_provisioning(),
        });
        files.push(File {
            path: "prometheus/rules.yml".into(),
            contents: self.rules_yaml(),
        });
        files.extend(self.kubernetes());
        files
    }

    /// Writes [`Generator::files`] under `dir`; returns the paths written.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for file in self.files() {
            let path = dir.join(&file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, file.contents)?;
            written.push(path);
        }
        Ok(written)
    }

    fn uid(&self, kind: &str) -> String {
        let mut uid: String = format!("teei-{}-{kind}", self.service)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if uid.len() > 40 {
            // Grafana's limit; keep the kind, which tells the dashboards apart.
            let keep = 40 - kind.len() - 1;
            uid = format!("{}-{kind}", &uid[..keep]);
        }
        uid
    }

    fn sel(&self, extra: &str) -> String {
        if extra.is_empty() {
            format!("job=\"{}\"", self.job)
        } else {
            format!("job=\"{}\",{extra}", self.job)
        }
    }

    /// The alerting rules.
    pub fn alerts(&self) -> Vec<Alert> {
        let t = &self.thresholds;
        let job = self.sel("");
        let overview = self.uid("overview");
        let http = self.uid("http");
        let service = &self.service;
        let alert = |name: &str,
                     expr: String,
                     for_: &'static str,
                     severity: Severity,
                     summary: String,
                     description: String,
                     runbook: Runbook,
                     dashboard: &str| Alert {
            name: name.to_owned(),
            expr,
            for_,
            severity,
            labels: Vec::new(),
            summary,
            description,
            runbook,
            dashboard: dashboard.to_owned(),
        };
        let errors = format!(
            "sum(rate(http_requests_total{{{}}}[5m])) / sum(rate(http_requests_total{{{job}}}[5m]))",
            self.sel("status=~\"5..\"")
        );
        let p95 = |metric: &str| {
            format!("histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{job}}}[5m])))")
        };
        let mut alerts = vec![
            alert(
                "ServiceDown",
                format!("up{{{job}}} == 0"),
                "1m",
                Severity::Critical,
                format!("{service} is down"),
                format!(
                    "Prometheus cannot scrape {service} ({{{{ $labels.instance }}}}) for 1 minute."
                ),
                Runbook::ServiceDown,
                &overview,
            ),
            alert(
                "HighErrorRate",
                format!("{errors} > {}", t.error_ratio_critical),
                "5m",
                Severity::Critical,
                format!(
                    "{service} answers more than {}% of requests with 5xx",
                    t.error_ratio_critical * 100.0
                ),
                "5xx share over 5 minutes: {{ $value | humanizePercentage }}.".into(),
                Runbook::HighErrorRate,
                &http,
            ),
            alert(
                "ElevatedErrorRate",
                format!("{errors} > {}", t.error_ratio_warning),
                "10m",
                Severity::Warning,
                format!(
                    "{service} answers more than {}% of requests with 5xx",
                    t.error_ratio_warning * 100.0
                ),
                "5xx share over 5 minutes: {{ $value | humanizePercentage }}.".into(),
                Runbook::HighErrorRate,
                &http,
            ),
            alert(
                "HighLatency",
                format!(
                    "{} > {}",
                    p95("http_request_duration_seconds"),
                    t.latency_p95_warning
                ),
                "10m",
                Severity::Warning,
                format!("{service} p95 latency above {} s", t.latency_p95_warning),
                "p95 request latency: {{ $value | humanizeDuration }}.".into(),
                Runbook::HighLatency,
                &http,
            ),
            alert(
                "VeryHighLatency",
                format!(
                    "{} > {}",
                    p95("http_request_duration_seconds"),
                    t.latency_p95_critical
                ),
                "5m",
                Severity::Critical,
                format!("{service} p95 latency above {} s", t.latency_p95_critical),
                "p95 request latency: {{ $value | humanizeDuration }}.".into(),
                Runbook::HighLatency,
                &http,
            ),
            alert(
                "DatabaseSlow",
                format!(
                    "{} > {}",
                    p95("db_query_duration_seconds"),
                    t.db_p95_warning
                ),
                "10m",
                Severity::Warning,
                format!(
                    "{service} database queries slow (p95 above {} s)",
                    t.db_p95_warning
                ),
                "p95 query duration: {{ $value | humanizeDuration }}.".into(),
                Runbook::Database,
                &self.uid("database"),
            ),
            alert(
                "DatabaseErrors",
                format!(
                    "sum(rate(db_queries_total{{{}}}[5m])) / sum(rate(db_queries_total{{{job}}}[5m])) > {}",
                    self.sel("status=\"error\""),
                    t.db_error_ratio_critical
                ),
                "5m",
                Severity::Critical,
                format!("{service} database queries failing"),
                "Failing share of queries: {{ $value | humanizePercentage }}.".into(),
                Runbook::Database,
                &self.uid("database"),
            ),
            alert(
                "EventBacklog",
                format!(
                    "max by (queue) (queue_size{{{job}}}) > {}",
                    t.queue_backlog_warning
                ),
                "10m",
                Severity::Warning,
                format!("{service} queue {{{{ $labels.queue }}}} is backing up"),
                "{{ $value }} messages waiting.".into(),
                Runbook::EventBacklog,
                &self.uid("events"),
            ),
            alert(
                "EventProcessingErrors",
                format!(
                    "sum(rate(events_processed_total{{{}}}[5m])) / sum(rate(events_processed_total{{{job}}}[5m])) > {}",
                    self.sel("status=\"error\""),
                    t.event_error_ratio_critical
                ),
                "5m",
                Severity::Critical,
                format!("{service} fails to process events"),
                "Failing share of events: {{ $value | humanizePercentage }}.".into(),
                Runbook::EventBacklog,
                &self.uid("events"),
            ),
            alert(
                "HighMemory",
                format!(
                    "process_resident_memory_bytes{{{job}}} > {}",
                    t.memory_bytes_warning
                ),
                "10m",
                Severity::Warning,
                format!("{service} uses a lot of memory"),
                "Resident memory: {{ $value | humanize1024 }}B.".into(),
                Runbook::ResourcePressure,
                &self.uid("runtime"),
            ),
            alert(
                "HighCpu",
                format!(
                    "rate(process_cpu_seconds_total{{{job}}}[5m]) > {}",
                    t.cpu_cores_warning
                ),
                "15m",
                Severity::Warning,
                format!("{service} CPU use is high"),
                "CPU: {{ $value }} cores.".into(),
                Runbook::ResourcePressure,
                &self.uid("runtime"),
            ),
            alert(
                "RuntimeSchedulingDelay",
                format!(
                    "tokio_scheduling_delay_seconds{{{job}}} > {}",
                    t.scheduling_delay_warning
                ),
                "5m",
                Severity::Warning,
                format!("{service} async runtime is overloaded"),
                "A 1 s timer fires {{ $value | humanizeDuration }} late.".into(),
                Runbook::ResourcePressure,
                &self.uid("runtime"),
            ),
        ];
        for check in &self.checks {
            let severity = if check.critical() {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let mut rule = alert(
                "DependencyHealthFailing",
                format!(
                    "health_check_status{{{}}} == 0",
                    self.sel(&format!("name=\"{}\"", check.name()))
                ),
                "2m",
                severity,
                format!("{service}: health check {} failing", check.name()),
                format!(
                    "The {} check {} of {service} has failed for 2 minutes{}.",
                    check.kind().as_str(),
                    check.name(),
                    if check.critical() {
                        "; the service reports unready"
                    } else {
                        "; the service reports degraded"
                    }
                ),
                Runbook::DependencyHealth,
                &self.uid("health"),
            );
            rule.labels.push(("check", check.name().to_owned()));
            alerts.push(rule);
        }
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
                    let mut rule = alert(
                        &format!("{kind}BudgetBurn{speed}"),
                        format!(
                            "({}) > {threshold} and ({}) > {threshold}",
                            ratio(long),
                            ratio(short)
                        ),
                        for_,
                        severity,
                        format!(
                            "{service}: {} burns its {} budget {rate}x too fast",
                            function.name(),
                            kind.to_lowercase()
                        ),
                        format!(
                            "At this rate the {} objective of {} ({}) is spent in {}.",
                            kind.to_lowercase(),
                            function.name(),
                            format_number(target * 100.0) + "%",
                            budget_exhaustion(rate)
                        ),
                        Runbook::ErrorBudgetBurn,
                        &self.uid("functions"),
                    );
                    rule.labels.push(("function", function.name().to_owned()));
                    alerts.push(rule);
                }
            };
            if let Some(success) = objective.success() {
                let errors = |window: &str| {
                    format!(
                        "sum(rate(function_calls_total{{{series},result=~\"error|panic\"}}[{window}])) / sum(rate(function_calls_total{{{series}}}[{window}]))"
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

    fn counted(&self) -> impl Iterator<Item = &&'static FunctionEntry> {
        self.functions.iter().filter(|f| f.metrics().is_some())
    }

    fn rules_yaml(&self) -> String {
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

    fn datasource_provisioning(&self) -> String {
        format!(
            "# Generated by teei-obs: the Prometheus datasource its dashboards reference.\n\
             apiVersion: 1\n\
             datasources:\n  - name: {}\n    uid: {}\n    type: prometheus\n    access: proxy\n    url: {}\n    isDefault: true\n    editable: false\n",
            quote("Prometheus"),
            quote(&self.datasource_uid),
            quote(&self.prometheus_url)
        )
    }

    fn dashboard_provisioning(&self) -> String {
        format!(
            "# Generated by teei-obs: loads the dashboards of {:?} from the directory beside this\n\
             # provisioning tree; set `path` to where they are deployed.\n\
             apiVersion: 1\n\
             providers:\n  - name: {}\n    folder: {}\n    type: file\n    disableDeletion: false\n    allowUiUpdates: false\n    options:\n      path: {}\n",
            self.service,
            quote(&format!("teei-obs {}", self.service)),
            quote(&self.service),
            quote(&format!("/etc/grafana/dashboards/{}", self.service))
        )
    }

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

/// A number as PromQL and Prometheus' `le` labels write it (`0.25`, `1`, `0.0144`).
fn format_number(value: f64) -> String {
    // Round off binary noise such as 14.4 * 0.001 = 0.014400000000000001.
    let rounded = (value * 1e12).round() / 1e12;
    format!("{rounded}")
}

fn budget_exhaustion(rate: f64) -> String {
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

/// `value` as a YAML double-quoted scalar (JSON's escapes are YAML's).
fn quote(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Lays out Grafana panels: rows of panels, 8 units wide, 3 to a line.
struct Board {
    uid: String,
    title: String,
    datasource: Value,
    panels: Vec<Value>,
    next_id: u64,
    y: u64,
    x: u64,
}

impl Board {
    fn new(uid: &str, title: &str, datasource: &Value) -> Board {
        Board {
            uid: uid.to_owned(),
            title: title.to_owned(),
            datasource: datasource.clone(),
            panels: Vec::new(),
            next_id: 1,
            y: 0,
            x: 0,
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn row(mut self, title: &str) -> Board {
        if self.x > 0 {
            self.y += 8;
            self.x = 0;
        }
        let id = self.id();
        self.panels.push(json!({
            "id": id, "type": "row", "title": title, "collapsed": false, "panels": [],
            "gridPos": { "h": 1, "w": 24, "x": 0, "y": self.y },
        }));
        self.y += 1;
        self
    }

    fn place(&mut self, mut panel: Value) {
        if self.x >= 24 {
            self.y += 8;
            self.x = 0;
        }
        panel["id"] = json!(self.id());
        panel["gridPos"] = json!({ "h": 8, "w": 8, "x": self.x, "y": self.y });
        self.x += 8;
        self.panels.push(panel);
    }

    fn target(&self, expr: &str, legend: &str) -> Value {
        json!({ "refId": "A", "datasource": self.datasource, "expr": expr, "legendFormat": legend, "range": true })
    }

    fn series(mut self, title: &str, expr: &str, legend: &str, unit: &str) -> Board {
        let panel = json!({
            "type": "timeseries", "title": title, "datasource": self.datasource,
            "targets": [self.target(expr, legend)],
            "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
            "options": { "legend": { "displayMode": "list", "placement": "bottom", "showLegend": true } },
        });
        self.place(panel);
        self
    }

    fn stat(mut self, title: &str, expr: &str, legend: &str, unit: &str) -> Board {
        let panel = json!({
            "type": "stat", "title": title, "datasource": self.datasource,
            "targets": [self.target(expr, legend)],
            "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
            "options": { "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false } },
        });
        self.place(panel);
        self
    }

    fn text(mut self, title: &str, content: &str) -> Board {
        let panel = json!({
            "type": "text", "title": title,
            "options": { "mode": "markdown", "content": content },
        });
        self.place(panel);
        self
    }

    fn build(self, tags: &[&str]) -> Value {
        json!({
            "uid": self.uid,
            "title": self.title,
            "tags": tags,
            "schemaVersion": 39,
            "version": 1,
            "editable": false,
            "graphTooltip": 1,
            "time": { "from": "now-1h", "to": "now" },
            "refresh": "30s",
            "timezone": "browser",
            "annotations": { "list": [] },
            "templating": { "list": [] },
            "panels": self.panels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_prometheus_writes_them() {
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(14.4 * 0.001), "0.0144");
        assert_eq!(format_number(10.0), "10");
    }

    #[test]
    fn long_service_names_still_give_grafana_uids() {
        let generator = Generator::for_registry("a-very-long-service-name-for-grafana-uids");
        for (_, dashboard) in generator.dashboards() {
            let uid = dashboard["uid"].as_str().unwrap();
            assert!(uid.len() <= 40, "{uid}");
        }
    }

    #[test]
    fn budgets_run_out_in_readable_units() {
        // Of a 30-day budget.
        assert_eq!(budget_exhaustion(14.4), "2.1 days");
        assert_eq!(budget_exhaustion(6.0), "5 days");
        assert_eq!(budget_exhaustion(36.0), "20 hours");
    }
}
