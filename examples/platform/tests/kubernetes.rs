//! The committed Kubernetes manifests of the platform (`docs/generated/platform`, kept up
//! to date by `ops.rs`), checked offline as a cluster would take them:
//!
//! - every built-in object against the Kubernetes 1.37 schemas, strictly (no unknown
//!   field), by `kubernetes-validate` (PyPI);
//! - every Prometheus Operator object (`ServiceMonitor`, `PrometheusRule`) against the
//!   operator's published CRD schemas as `@kubernetes-models/prometheus-operator` (npm)
//!   ships them — `kubernetes-validate` has none for CRDs;
//! - the rules of each `PrometheusRule` by `promtool check rules`;
//! - the OpenTelemetry Collector's pipelines name only defined receivers, processors and
//!   exporters (the Collector binary is not available here);
//! - each kustomization lists files that exist, each ServiceMonitor selects its Service.
//!
//! `scripts/test` installs the validators under `target/k8s-tools`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn generated() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/generated/platform")
}

fn tools() -> PathBuf {
    let dir = std::env::var_os("TEEI_K8S_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/k8s-tools"));
    assert!(
        dir.join("venv/bin/kubernetes-validate").exists()
            && dir
                .join("npm/node_modules/@kubernetes-models/prometheus-operator")
                .exists(),
        "the validators are missing under {}: `bash scripts/test` installs them",
        dir.display()
    );
    dir
}

/// Every manifest file, with its YAML documents.
fn manifests() -> BTreeMap<PathBuf, Vec<Value>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![generated().join("kubernetes")];
    for entry in std::fs::read_dir(generated()).unwrap() {
        let path = entry.unwrap().path().join("kubernetes");
        if path.is_dir() {
            dirs.push(path);
        }
    }
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let documents: Vec<Value> = serde_norway::Deserializer::from_str(&text)
                .map(|document| serde::Deserialize::deserialize(document).unwrap())
                .collect();
            files.insert(path, documents);
        }
    }
    assert!(files.len() >= 7 * 8 + 3, "{} files", files.len());
    files
}

fn kind(document: &Value) -> &str {
    document["kind"].as_str().unwrap_or_default()
}

const OPERATOR_KINDS: [&str; 2] = ["ServiceMonitor", "PrometheusRule"];

#[test]
fn built_in_objects_pass_the_kubernetes_schemas_strictly() {
    let tools = tools();
    let mut files = Vec::new();
    let mut documents = 0;
    for (path, docs) in manifests() {
        // Kubernetes objects only: not the collector's own configuration.
        let built_in = |d: &Value| {
            d.get("apiVersion").is_some()
                && !OPERATOR_KINDS.contains(&kind(d))
                && kind(d) != "Kustomization"
        };
        if docs.iter().all(built_in) {
            documents += docs.len();
            files.push(path);
        }
    }
    let output = Command::new(tools.join("venv/bin/kubernetes-validate"))
        .args(["--strict", "-k", "1.37.0"])
        .args(&files)
        .output()
        .expect("kubernetes-validate");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    assert!(
        !report.contains("WARN") && !report.contains("ERROR"),
        "{report}"
    );
    assert_eq!(report.matches(" passed ").count(), documents, "{report}");
    // Deployments, Services, ConfigMaps, PodDisruptionBudgets; 7 services + the collector.
    assert!(documents >= 7 * 4 + 3, "{documents}");
}

#[test]
fn operator_objects_pass_the_prometheus_operator_schemas_and_rules_pass_promtool() {
    let tools = tools();
    let mut objects = Vec::new();
    for docs in manifests().into_values() {
        objects.extend(
            docs.into_iter()
                .filter(|d| OPERATOR_KINDS.contains(&kind(d))),
        );
    }
    assert_eq!(
        objects.len(),
        14,
        "a ServiceMonitor and a PrometheusRule per service"
    );
    let script = r#"
        const path = require("path");
        const models = path.join(process.argv[1], "node_modules/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1");
        const objects = JSON.parse(require("fs").readFileSync(0, "utf8"));
        let valid = 0;
        for (const object of objects) {
            const Model = require(path.join(models, object.kind))[object.kind];
            new Model(object).validate();   // throws with the schema's complaint
            valid += 1;
        }
        console.log(`valid ${valid}`);
    "#;
    let ran = teei_obs_tests::run_with_input(
        "node",
        &["-e", script, tools.join("npm").to_str().unwrap()],
        &serde_json::to_string(&objects).unwrap(),
        "install Debian's nodejs (scripts/test does)",
    );
    assert!(ran.success, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(ran.stdout.trim(), "valid 14");
    // A wrong object is refused: the check can fail.
    let mut broken = objects[0].clone();
    broken["spec"]["endpoints"] = serde_json::json!([{ "port": 5 }]);
    broken["kind"] = "ServiceMonitor".into();
    let refused = teei_obs_tests::run_with_input(
        "node",
        &["-e", script, tools.join("npm").to_str().unwrap()],
        &serde_json::to_string(&[broken]).unwrap(),
        "nodejs",
    );
    assert!(!refused.success, "{}", refused.stdout);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("k8s-rules");
    std::fs::create_dir_all(&dir).unwrap();
    for rule in objects.iter().filter(|o| kind(o) == "PrometheusRule") {
        let name = rule["metadata"]["name"].as_str().unwrap();
        let path = dir.join(format!("{name}.yml"));
        let groups = serde_json::json!({ "groups": rule["spec"]["groups"] });
        std::fs::write(&path, serde_norway::to_string(&groups).unwrap()).unwrap();
        let output = Command::new("promtool")
            .args(["check", "rules"])
            .arg(&path)
            .output()
            .expect("promtool (Debian's prometheus)");
        assert!(
            output.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let rules = rule["spec"]["groups"][0]["rules"].as_array().unwrap();
        assert!(rules.len() >= 5, "{name}: the standard alerts at least");
    }
}

#[test]
fn the_collector_pipelines_name_only_what_is_defined() {
    let path = generated().join("kubernetes/otel-collector-config.yaml");
    let config: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pipelines = config["service"]["pipelines"]
        .as_object()
        .expect("pipelines");
    assert!(pipelines.contains_key("traces"));
    for (name, pipeline) in pipelines {
        for section in ["receivers", "processors", "exporters"] {
            let used = pipeline[section]
                .as_array()
                .unwrap_or_else(|| panic!("{name}.{section}"));
            assert!(
                !used.is_empty() || section == "processors",
                "{name} has no {section}"
            );
            for component in used {
                let component = component.as_str().unwrap();
                assert!(
                    config[section].get(component).is_some(),
                    "pipeline {name} names {section} {component:?}, which is not defined"
                );
            }
        }
    }
    for extension in config["service"]["extensions"].as_array().unwrap() {
        assert!(
            config["extensions"]
                .get(extension.as_str().unwrap())
                .is_some()
        );
    }
    // Every error trace kept, a share of the rest; the memory limiter first, batch last.
    let traces = &pipelines["traces"]["processors"];
    assert_eq!(traces[0], "memory_limiter");
    assert_eq!(traces.as_array().unwrap().last().unwrap(), "batch");
    let policies = config["processors"]["tail_sampling"]["policies"]
        .as_array()
        .unwrap();
    assert!(policies.iter().any(|p| p["type"] == "status_code"
        && p["status_code"]["status_codes"] == serde_json::json!(["ERROR"])));
    assert!(policies.iter().any(|p| p["type"] == "probabilistic"));
    // The ConfigMap the Deployment mounts holds the same configuration.
    let collector = &manifests()[&generated().join("kubernetes/otel-collector.yaml")];
    let map = collector.iter().find(|d| kind(d) == "ConfigMap").unwrap();
    let mounted: Value =
        serde_norway::from_str(map["data"]["config.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(mounted, config);
}

#[test]
fn kustomizations_list_what_exists_and_monitors_select_their_services() {
    let files = manifests();
    for (path, docs) in &files {
        if kind(&docs[0]) != "Kustomization" {
            continue;
        }
        for resource in docs[0]["resources"].as_array().unwrap() {
            let target = path.parent().unwrap().join(resource.as_str().unwrap());
            assert!(
                target.exists(),
                "{}: {} is missing",
                path.display(),
                target.display()
            );
        }
    }
    for (path, docs) in &files {
        let Some(monitor) = docs.iter().find(|d| kind(d) == "ServiceMonitor") else {
            continue;
        };
        let service = &files[&path.with_file_name("service.yaml")][0];
        for (key, value) in monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap()
        {
            assert_eq!(
                &service["metadata"]["labels"][key],
                value,
                "{}",
                path.display()
            );
        }
        assert_eq!(
            monitor["spec"]["endpoints"][0]["port"],
            service["spec"]["ports"][0]["name"]
        );
    }
}
