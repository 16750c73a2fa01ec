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

use std::path::{Path, PathBuf};

use crate::health::CheckEntry;
use crate::registry::FunctionEntry;

mod alerts;
mod dashboards;
mod grafana;
pub mod kubernetes;

pub use alerts::{Alert, Runbook, Severity, Thresholds};

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Path relative to the output directory, with `/` separators.
    pub path: String,
    /// The contents.
    pub contents: String,
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
        generator.drain_delay = obs.config().health.drain_delay;
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
}

/// `value` as a YAML double-quoted scalar (JSON's escapes are YAML's).
fn quote(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::alerts::{budget_exhaustion, format_number};
    use super::*;

    /// Every metric family the generated dashboards and rules query is one teei-obs
    /// produces under a shared constant (`metrics::names`), or one of the few it does not
    /// produce itself (Prometheus's `up`, the process collector's).
    #[test]
    fn the_generator_queries_only_families_the_producers_name() {
        let external = [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_threads",
            "process_start_time_seconds",
        ];
        let suffixes = [
            "_total",
            "_seconds",
            "_bytes",
            "_size",
            "_status",
            "_concurrent",
            "_in_flight",
            "_length",
            "_connections",
            "_workers",
            "_tasks",
            "_depth",
            "_threads",
            "_fds",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for file in Generator::for_registry("svc").files() {
            for token in file
                .contents
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            {
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| token.strip_suffix(suffix))
                    .unwrap_or(token);
                if family.contains('_') && suffixes.iter().any(|s| family.ends_with(s)) {
                    seen.insert(family.to_owned());
                }
            }
        }
        assert!(seen.contains("http_requests_total"), "{seen:?}");
        for family in &seen {
            assert!(
                crate::metrics::names::ALL.contains(&family.as_str())
                    || external.contains(&family.as_str()),
                "{family} is queried but is no shared name"
            );
        }
    }

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
