//! Kubernetes manifests from the registry: the probes, scrape configuration, alerts and
//! dashboards a cluster needs, derived from the code so they cannot drift from it.
//!
//! Per service, under `kubernetes/`:
//!
//! | file | object |
//! |---|---|
//! | `deployment.yaml` | `Deployment`: startup, readiness and liveness probes on the health endpoints, timed from the registered checks; `preStop` and the termination grace from the shutdown sequence; `OTEL_*` from the ConfigMap, `SENTRY_DSN` from an optional Secret |
//! | `otel-configmap.yaml` | `ConfigMap` `<service>-otel`: the OpenTelemetry environment |
//! | `service.yaml` | `Service` on the service's port (`http`) |
//! | `pdb.yaml` | `PodDisruptionBudget`: at most one pod down at a time |
//! | `servicemonitor.yaml` | Prometheus Operator `ServiceMonitor`: `/metrics` of the Service, job = service name |
//! | `prometheusrule.yaml` | Prometheus Operator `PrometheusRule`: the generated alert rules |
//! | `dashboards-configmap.yaml` | one `ConfigMap` per dashboard (YAML documents), labelled `grafana_dashboard: "1"` for the Grafana sidecar |
//! | `kustomization.yaml` | the above |
//!
//! [`platform_files`] adds, for several services, a `kustomization.yaml` over theirs and an
//! OpenTelemetry Collector (OTLP in; memory limiter, tail sampling that keeps every error
//! trace and a ratio of the rest, batch; OTLP out) with its `Deployment` and `Service`.
//!
//! **Probe timings.** Startup: the budget is `3 × (timeout + interval)` of the slowest
//! startup check plus 10 s (three runs of it, as a dependency that is still coming up
//! needs, and the process's own start), probed every 5 s. Readiness every 5 s, two
//! failures; liveness every 10 s, three failures. Each probe's `timeoutSeconds` is its
//! slowest check's timeout plus a second (the endpoint answers from cached results, but
//! waits for a first run that long). Shutdown: `preStop` sleeps 1 s (endpoints are removed
//! while the pod still serves), then SIGTERM starts the drain (readiness 503 for the drain
//! delay) and the span flush (bounded by the shutdown timeout); the grace period covers all
//! of it plus 5 s.

use std::time::Duration;

use serde_json::{Value, json};

use super::{File, Generator};
use crate::health::{CheckEntry, Probe};

/// The startup probe's period, in seconds.
const STARTUP_PERIOD: u64 = 5;
/// What `preStop` sleeps before SIGTERM, in seconds.
const PRE_STOP: u64 = 1;

/// The timings a check contributes to the probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckTiming {
    /// Its timeout.
    pub timeout: Duration,
    /// Its interval.
    pub interval: Duration,
    /// In the startup probe.
    pub startup: bool,
    /// In the readiness probe.
    pub readiness: bool,
    /// In the liveness probe.
    pub liveness: bool,
}

impl From<&CheckEntry> for CheckTiming {
    fn from(check: &CheckEntry) -> Self {
        CheckTiming {
            timeout: check.timeout(),
            interval: check.interval(),
            startup: check.in_probe(Probe::Startup),
            readiness: check.in_probe(Probe::Readiness),
            liveness: check.in_probe(Probe::Liveness),
        }
    }
}

/// Whole seconds, rounded up.
fn seconds(duration: Duration) -> u64 {
    duration.as_millis().div_ceil(1000) as u64
}

/// The three probes for `checks`, as Kubernetes writes them.
pub fn probes(checks: &[CheckTiming]) -> Value {
    let slowest = |pick: fn(&CheckTiming) -> bool| {
        checks
            .iter()
            .filter(|c| pick(c))
            .map(|c| c.timeout)
            .max()
            .unwrap_or_default()
    };
    let budget = checks
        .iter()
        .filter(|c| c.startup)
        .map(|c| 3 * seconds(c.timeout + c.interval))
        .max()
        .unwrap_or(0)
        + 10;
    let probe = |path: &str, period: u64, failures: u64, timeout: Duration| {
        json!({
            "httpGet": { "path": path, "port": "http" },
            "periodSeconds": period,
            "failureThreshold": failures,
            "timeoutSeconds": seconds(timeout) + 1,
        })
    };
    json!({
        "startupProbe": probe(
            "/health/startup",
            STARTUP_PERIOD,
            budget.div_ceil(STARTUP_PERIOD),
            slowest(|c| c.startup),
        ),
        "readinessProbe": probe("/health/readiness", 5, 2, slowest(|c| c.readiness)),
        "livenessProbe": probe("/health/liveness", 10, 3, slowest(|c| c.liveness)),
    })
}

/// The pod's termination grace: `preStop`, the drain, the flush bound, and 5 s.
pub fn grace_period(drain: Duration, flush: Duration) -> u64 {
    PRE_STOP + seconds(drain) + seconds(flush) + 5
}

fn yaml(value: &Value) -> String {
    serde_norway::to_string(value).unwrap_or_default()
}

fn file(path: &str, header: &str, value: &Value) -> File {
    documents(path, header, std::slice::from_ref(value))
}

/// A kustomization over `resources`.
fn kustomization<S: serde::Serialize>(resources: &[S]) -> Value {
    json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    })
}

/// Several objects in one file, as YAML documents.
fn documents(path: &str, header: &str, values: &[Value]) -> File {
    let documents: Vec<String> = values.iter().map(yaml).collect();
    File {
        path: format!("kubernetes/{path}"),
        contents: format!(
            "# {header} Generated by teei-obs; regenerate, do not edit.\n{}",
            documents.join("---\n")
        ),
    }
}

impl Generator {
    fn labels(&self) -> Value {
        json!({ "app.kubernetes.io/name": self.service, "app.kubernetes.io/part-of": "teei-obs" })
    }

    /// The Kubernetes manifests of the service (see [`kubernetes`](self)).
    pub fn kubernetes(&self) -> Vec<File> {
        let name = &self.service;
        let labels = self.labels();
        let selector = json!({ "app.kubernetes.io/name": name });
        let deployment = self.deployment(&labels, &selector);
        let config_map = self.otel_config_map(&labels);
        let service = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": name, "labels": labels },
            "spec": {
                "selector": selector,
                "ports": [{ "name": "http", "port": self.port, "targetPort": "http", "protocol": "TCP" }],
            },
        });
        let pdb = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": { "name": name, "labels": labels },
            "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector } },
        });
        let (monitor, rule) = self.operator_objects(&labels, &selector);
        let dashboards = self.dashboard_config_maps();
        let resources = [
            "deployment.yaml",
            "otel-configmap.yaml",
            "service.yaml",
            "pdb.yaml",
            "servicemonitor.yaml",
            "prometheusrule.yaml",
            "dashboards-configmap.yaml",
        ];
        let kustomization = kustomization(&resources);
        vec![
            file(
                "deployment.yaml",
                &format!("The {name} Deployment, probes from its health checks."),
                &deployment,
            ),
            file(
                "otel-configmap.yaml",
                "The OpenTelemetry environment.",
                &config_map,
            ),
            file("service.yaml", "The Service.", &service),
            file("pdb.yaml", "At most one pod down at a time.", &pdb),
            file(
                "servicemonitor.yaml",
                "Prometheus Operator: scrape /metrics.",
                &monitor,
            ),
            file(
                "prometheusrule.yaml",
                "Prometheus Operator: the alert rules.",
                &rule,
            ),
            documents(
                "dashboards-configmap.yaml",
                "Grafana dashboards for the sidecar.",
                &dashboards,
            ),
            file(
                "kustomization.yaml",
                "The service's manifests.",
                &kustomization,
            ),
        ]
    }

    /// The Deployment: probes and grace period from the checks, drain and flush.
    fn deployment(&self, labels: &Value, selector: &Value) -> Value {
        let name = &self.service;
        let checks: Vec<CheckTiming> = self.checks.iter().map(|c| CheckTiming::from(*c)).collect();
        let mut container = json!({
            "name": name,
            "image": self.image,
            "ports": [{ "name": "http", "containerPort": self.port, "protocol": "TCP" }],
            "envFrom": [{ "configMapRef": { "name": format!("{name}-otel") } }],
            "env": [{
                "name": "SENTRY_DSN",
                "valueFrom": { "secretKeyRef": { "name": format!("{name}-sentry"), "key": "dsn", "optional": true } },
            }],
            "lifecycle": { "preStop": { "sleep": { "seconds": PRE_STOP } } },
            "resources": {
                "requests": { "cpu": "50m", "memory": "32Mi" },
                "limits": { "memory": "256Mi" },
            },
        });
        if let (Value::Object(container), Value::Object(probes)) = (&mut container, probes(&checks))
        {
            container.extend(probes);
        }
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": name, "labels": labels },
            "spec": {
                "replicas": self.replicas,
                "selector": { "matchLabels": selector },
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "terminationGracePeriodSeconds": grace_period(self.drain_delay, self.flush_bound),
                        "containers": [container],
                    },
                },
            },
        })
    }

    /// The ConfigMap of the OpenTelemetry environment, with the builder's `env`.
    fn otel_config_map(&self, labels: &Value) -> Value {
        let name = &self.service;
        let config_map = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": format!("{name}-otel"), "labels": labels },
            "data": {
                "OTEL_SERVICE_NAME": name,
                "OTEL_EXPORTER_OTLP_ENDPOINT": self.collector,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                // Everything goes to the collector, which samples by tail.
                "OTEL_TRACES_SAMPLER": "parentbased_always_on",
                "DEPLOYMENT_ENVIRONMENT": "production",
                "LOG_FORMAT": "json",
            },
        });
        let mut config_map = config_map;
        for (key, value) in &self.env {
            config_map["data"][key] = json!(value);
        }
        config_map
    }

    /// The Prometheus Operator's ServiceMonitor and PrometheusRule.
    fn operator_objects(&self, labels: &Value, selector: &Value) -> (Value, Value) {
        let name = &self.service;
        let monitor = json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": { "name": name, "labels": labels },
            "spec": {
                "jobLabel": "app.kubernetes.io/name",
                "selector": { "matchLabels": selector },
                "endpoints": [{ "port": "http", "path": "/metrics", "interval": "15s" }],
            },
        });
        let rules: Value = serde_norway::from_str(&self.rules_yaml()).unwrap_or(Value::Null);
        let rule = json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": { "name": name, "labels": labels },
            "spec": { "groups": rules["groups"] },
        });
        (monitor, rule)
    }

    /// One ConfigMap per dashboard, labelled for Grafana's sidecar.
    fn dashboard_config_maps(&self) -> Vec<Value> {
        let name = &self.service;
        self
            .dashboards()
            .into_iter()
            .map(|(board, dashboard)| {
                json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": format!("{name}-dashboard-{board}"),
                        "labels": { "grafana_dashboard": "1", "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "teei-obs" },
                    },
                    "data": { format!("{name}-{board}.json"): serde_json::to_string_pretty(&dashboard).unwrap_or_default() },
                })
            })
            .collect()
    }
}

/// The collector's address the services' ConfigMaps name by default.
pub const COLLECTOR: &str = "http://otel-collector:4318";

/// The collector's configuration: OTLP in; memory limiter, tail sampling that keeps every
/// trace with an error and `keep_ratio` % of the rest, batch; OTLP/HTTP out to `backend`.
fn collector_config(backend: &str, keep_ratio: f64) -> Value {
    json!({
        "receivers": {
            "otlp": { "protocols": { "grpc": { "endpoint": "0.0.0.0:4317" }, "http": { "endpoint": "0.0.0.0:4318" } } },
        },
        "processors": {
            "memory_limiter": { "check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20 },
            "tail_sampling": {
                "decision_wait": "10s",
                "num_traces": 50000,
                "policies": [
                    { "name": "errors", "type": "status_code", "status_code": { "status_codes": ["ERROR"] } },
                    { "name": "the-rest", "type": "probabilistic", "probabilistic": { "sampling_percentage": keep_ratio } },
                ],
            },
            "batch": { "timeout": "5s", "send_batch_size": 1024 },
        },
        "exporters": {
            "otlphttp": { "endpoint": backend },
        },
        "extensions": { "health_check": { "endpoint": "0.0.0.0:13133" } },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "tail_sampling", "batch"],
                    "exporters": ["otlphttp"],
                },
            },
        },
    })
}

/// The platform's manifests, under `kubernetes/`: a `kustomization.yaml` over each
/// service's (`../<service>/kubernetes`) and the OpenTelemetry Collector — its
/// configuration as `otel-collector-config.yaml` and as the ConfigMap of
/// `otel-collector.yaml` (with its Deployment and Service). `backend` is where the
/// collector sends traces (OTLP/HTTP); `keep_ratio` the share of traces without an error
/// it keeps, in percent (every trace with an error is kept).
pub fn platform_files(services: &[&str], backend: &str, keep_ratio: f64) -> Vec<File> {
    let config = collector_config(backend, keep_ratio);
    let labels = json!({ "app.kubernetes.io/name": "otel-collector", "app.kubernetes.io/part-of": "teei-obs" });
    let selector = json!({ "app.kubernetes.io/name": "otel-collector" });
    let collector = [
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "otel-collector", "labels": labels },
            "data": { "config.yaml": yaml(&config) },
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": "otel-collector", "labels": labels },
            "spec": {
                // Tail sampling needs every span of a trace in one collector: one replica
                // (more would need a load-balancing tier in front, by trace ID).
                "replicas": 1,
                "selector": { "matchLabels": selector },
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "containers": [{
                            "name": "otel-collector",
                            "image": "otel/opentelemetry-collector-contrib:0.140.0",
                            "args": ["--config=/etc/otel/config.yaml"],
                            "ports": [
                                { "name": "otlp-grpc", "containerPort": 4317 },
                                { "name": "otlp-http", "containerPort": 4318 },
                                { "name": "health", "containerPort": 13133 },
                            ],
                            "readinessProbe": { "httpGet": { "path": "/", "port": "health" } },
                            "livenessProbe": { "httpGet": { "path": "/", "port": "health" } },
                            "resources": { "requests": { "cpu": "100m", "memory": "256Mi" }, "limits": { "memory": "1Gi" } },
                            "volumeMounts": [{ "name": "config", "mountPath": "/etc/otel" }],
                        }],
                        "volumes": [{ "name": "config", "configMap": { "name": "otel-collector" } }],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": "otel-collector", "labels": labels },
            "spec": {
                "selector": selector,
                "ports": [
                    { "name": "otlp-grpc", "port": 4317, "targetPort": "otlp-grpc" },
                    { "name": "otlp-http", "port": 4318, "targetPort": "otlp-http" },
                ],
            },
        }),
    ];
    let mut resources: Vec<String> = services
        .iter()
        .map(|s| format!("../{s}/kubernetes"))
        .collect();
    resources.push("otel-collector.yaml".into());
    let kustomization = kustomization(&resources);
    vec![
        file(
            "otel-collector-config.yaml",
            "The OpenTelemetry Collector's configuration (also in otel-collector.yaml).",
            &config,
        ),
        documents(
            "otel-collector.yaml",
            "The OpenTelemetry Collector: ConfigMap, Deployment, Service.",
            &collector,
        ),
        file("kustomization.yaml", "The whole platform.", &kustomization),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(timeout: u64, interval: u64) -> CheckTiming {
        CheckTiming {
            timeout: Duration::from_secs(timeout),
            interval: Duration::from_secs(interval),
            startup: true,
            readiness: true,
            liveness: false,
        }
    }

    fn startup_budget(probes: &Value) -> u64 {
        let startup = &probes["startupProbe"];
        startup["periodSeconds"].as_u64().unwrap() * startup["failureThreshold"].as_u64().unwrap()
    }

    #[test]
    fn the_startup_budget_covers_the_slowest_startup_check_and_follows_it() {
        let probes = probes(&[check(5, 10), check(1, 2)]);
        assert!(startup_budget(&probes) >= 3 * 15 + 10, "{probes}");
        assert_eq!(probes["startupProbe"]["timeoutSeconds"], 6);
        // A slower check: a longer budget, a longer timeout.
        let slower = super::probes(&[check(10, 30)]);
        assert!(startup_budget(&slower) >= 3 * 40 + 10);
        assert!(startup_budget(&slower) > startup_budget(&probes));
        assert_eq!(slower["startupProbe"]["timeoutSeconds"], 11);
        // Liveness has no check here: the shortest timeout.
        assert_eq!(probes["livenessProbe"]["timeoutSeconds"], 1);
    }

    #[test]
    fn the_grace_period_covers_pre_stop_drain_and_flush() {
        assert_eq!(
            grace_period(Duration::from_secs(5), Duration::from_secs(5)),
            16
        );
        assert_eq!(
            grace_period(Duration::from_millis(300), Duration::from_secs(5)),
            12
        );
    }
}
