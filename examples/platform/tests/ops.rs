//! The generated operations files of the platform (`platform --generate-ops`), proven with
//! the real tools: committed copies up to date, valid Grafana dashboards, `promtool check
//! rules`, `promtool test rules` on synthetic series for every alert, and a real Prometheus
//! server scraping the running platform, loading the rules and evaluating every dashboard
//! and rule expression. `scripts/test` installs Debian's `prometheus` (server and promtool).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Platform, SERVICES, json};
use teei_obs_tests::servers::Prometheus;

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/generated/platform")
}

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("teei-ops-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Runs `platform --generate-ops dir` (the seven services write their files).
fn generate(dir: &Path, base: u16) {
    let output = Command::new(env!("CARGO_BIN_EXE_platform"))
        .args([
            "--no-build",
            "--base-port",
            &base.to_string(),
            "--generate-ops",
        ])
        .arg(dir)
        .env_remove(teei_obs::ops::RUNBOOK_BASE_VAR)
        .output()
        .expect("run the platform launcher");
    assert!(
        output.status.success(),
        "--generate-ops failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn files_under(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn the_committed_files_are_up_to_date() {
    let dir = temp_dir("fresh");
    generate(&dir, 3000);
    let fresh = files_under(&dir);
    let committed = files_under(&committed());
    let names = |files: &BTreeMap<String, String>| files.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        names(&fresh),
        names(&committed),
        "the set of generated files changed: run `cargo run -p teei-platform -- --generate-ops docs/generated/platform`"
    );
    for (name, contents) in &fresh {
        assert!(
            committed[name] == *contents,
            "docs/generated/platform/{name} is out of date: run `cargo run -p teei-platform -- --generate-ops docs/generated/platform`"
        );
    }
    // 7 dashboards + 2 provisioning files + rules + 8 Kubernetes files per service; the
    // scrape config and the platform's kustomization and collector (3 files).
    assert_eq!(fresh.len(), SERVICES.len() * 18 + 4);
}

/// Every `(service, dashboard file, dashboard)` committed.
fn dashboards() -> Vec<(String, String, serde_json::Value)> {
    let mut all = Vec::new();
    for (name, contents) in files_under(&committed()) {
        let mut parts = name.splitn(3, '/');
        if let (Some(service), Some("dashboards"), Some(file)) =
            (parts.next(), parts.next(), parts.next())
        {
            all.push((service.to_owned(), file.to_owned(), json(&contents)));
        }
    }
    assert_eq!(all.len(), SERVICES.len() * 7);
    all
}

/// The panels of a dashboard, those nested in rows included.
fn panels(dashboard: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        out.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// `(expr, title)` of every query of every panel.
fn panel_queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    panels(dashboard)
        .into_iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |target| {
                    (
                        target["expr"].as_str().expect("expr").to_owned(),
                        title.clone(),
                    )
                })
        })
        .collect()
}

#[test]
fn the_dashboards_are_valid_grafana_dashboards() {
    let mut uids = BTreeSet::new();
    for service in SERVICES {
        let provisioning = std::fs::read_to_string(
            committed()
                .join(service)
                .join("provisioning/datasources/teei-obs.yaml"),
        )
        .unwrap();
        let uid_line = provisioning
            .lines()
            .find_map(|line| line.trim().strip_prefix("uid: "))
            .expect("the datasource has a uid");
        let datasource_uid: String = serde_json::from_str(uid_line).unwrap();
        assert!(provisioning.contains("type: prometheus"));
        let provider = std::fs::read_to_string(
            committed()
                .join(service)
                .join("provisioning/dashboards/teei-obs.yaml"),
        )
        .unwrap();
        assert!(
            provider.contains("type: file") && provider.contains("path: "),
            "{provider}"
        );

        for (owner, file, dashboard) in dashboards().into_iter().filter(|(s, _, _)| s == service) {
            let at = format!("{owner}/{file}");
            assert!(
                dashboard["schemaVersion"].as_u64().unwrap_or(0) >= 36,
                "{at}: schemaVersion"
            );
            let uid = dashboard["uid"].as_str().expect("uid");
            assert!(
                uid.len() <= 40
                    && uid
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{at}: uid {uid}"
            );
            assert!(uids.insert(uid.to_owned()), "{at}: uid {uid} used twice");
            assert!(
                dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{at}: title"
            );
            let mut ids = BTreeSet::new();
            for panel in panels(&dashboard) {
                let id = panel["id"].as_u64().expect("panel id");
                assert!(ids.insert(id), "{at}: panel id {id} repeated");
                let grid = &panel["gridPos"];
                for key in ["h", "w", "x", "y"] {
                    assert!(grid[key].is_u64(), "{at}: panel {id} gridPos.{key}");
                }
                assert!(
                    grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24,
                    "{at}: panel {id} too wide"
                );
                let mut references = vec![&panel["datasource"]];
                for target in panel["targets"].as_array().into_iter().flatten() {
                    assert!(target["refId"].is_string(), "{at}: panel {id} target refId");
                    references.push(&target["datasource"]);
                }
                for reference in references.into_iter().filter(|r| !r.is_null()) {
                    assert_eq!(reference["type"], "prometheus", "{at}: panel {id}");
                    assert_eq!(
                        reference["uid"],
                        datasource_uid.as_str(),
                        "{at}: panel {id} references another datasource"
                    );
                }
            }
            assert!(!ids.is_empty(), "{at}: no panels");
        }
    }
}

fn promtool(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool: install Debian's prometheus (scripts/test does)")
}

#[test]
fn promtool_accepts_the_rules() {
    for service in SERVICES {
        let rules = committed().join(service).join("prometheus/rules.yml");
        let out = promtool(&["check", "rules", rules.to_str().unwrap()], &committed());
        assert!(
            out.status.success(),
            "{service}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&rules).unwrap();
        let alerts = text.matches("- alert: ").count();
        assert_eq!(
            text.matches("runbook_url: ").count(),
            alerts,
            "{service}: every alert has a runbook"
        );
        // Each runbook exists.
        for url in text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("runbook_url: "))
        {
            let file = url.trim_matches('"').rsplit('/').next().unwrap();
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../docs/runbooks")
                    .join(file)
                    .exists(),
                "{service}: no runbook {file}"
            );
        }
    }
}

/// One alerting rule, read back from the generated file.
#[derive(Debug)]
struct Rule {
    alert: String,
    expr: String,
    labels: BTreeMap<String, String>,
}

fn rules_of(text: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut in_labels = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("- alert: ") {
            rules.push(Rule {
                alert: name.to_owned(),
                expr: String::new(),
                labels: BTreeMap::new(),
            });
            in_labels = false;
        } else if let Some(expr) = trimmed.strip_prefix("expr: ") {
            rules.last_mut().unwrap().expr = serde_json::from_str(expr).unwrap();
        } else if trimmed == "labels:" {
            in_labels = true;
        } else if trimmed == "annotations:" {
            in_labels = false;
        } else if in_labels && let Some((key, value)) = trimmed.split_once(": ") {
            let value = serde_json::from_str(value).unwrap_or_else(|_| value.to_owned());
            rules
                .last_mut()
                .unwrap()
                .labels
                .insert(key.to_owned(), value);
        }
    }
    rules
}

/// The rules file without its annotations: promtool compares annotations exactly, and
/// theirs hold humanised values; the expressions, durations and labels under test stay.
fn without_annotations(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.trim() == "annotations:" {
            skipping = true;
            continue;
        }
        if skipping && line.starts_with("          ") {
            continue;
        }
        skipping = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The value of label `key` in the first selector of `expr` that has it.
fn capture<'a>(expr: &'a str, key: &str) -> &'a str {
    // `,le="` and not the end of `module="`.
    let start = [format!(",{key}=\""), format!("{{{key}=\"")]
        .iter()
        .filter_map(|needle| expr.find(needle.as_str()).map(|at| at + needle.len()))
        .min()
        .expect(key);
    &expr[start..start + expr[start..].find('"').unwrap()]
}

/// `(series, values)` in promtool's notation.
type Series = Vec<(String, String)>;

/// Synthetic series that must make `rule` fire, and ones that must not, with the time to
/// evaluate at and the labels the alert must carry besides the rule's own.
fn case(rule: &Rule, job: &str) -> (Series, Series, &'static str, BTreeMap<String, String>) {
    let s = |series: String, values: &str| (series, values.to_owned());
    let mut extra = BTreeMap::new();
    let histogram = |metric: &str, slow: bool, selector: &str| {
        // Slow: every observation between 2.5 s and 5 s (p95 = 4.875 s); fast: every one
        // within 5 ms.
        ["0.005", "0.05", "0.5", "1", "2.5", "5", "+Inf"]
            .iter()
            .map(|le| {
                let counted = !slow || matches!(*le, "5" | "+Inf");
                let values = if counted { "0+60x60" } else { "0x60" };
                s(format!("{metric}_bucket{{{selector},le=\"{le}\"}}"), values)
            })
            .collect::<Vec<_>>()
    };
    let ratio = |metric: &str, bad: &str, good: &str, selector: &str| {
        (
            vec![
                s(format!("{metric}{{{selector},{bad}}}"), "0+60x60"),
                s(format!("{metric}{{{selector},{good}}}"), "0+60x60"),
            ],
            vec![
                s(format!("{metric}{{{selector},{bad}}}"), "0x60"),
                s(format!("{metric}{{{selector},{good}}}"), "0+60x60"),
            ],
        )
    };
    let job_sel = format!("job=\"{job}\"");
    let (fire, quiet, at) = match rule.alert.as_str() {
        "ServiceDown" => {
            extra.insert("job".into(), job.into());
            extra.insert("instance".into(), "127.0.0.1:1".into());
            let up = format!("up{{{job_sel},instance=\"127.0.0.1:1\"}}");
            (vec![s(up.clone(), "0x10")], vec![s(up, "1x10")], "5m")
        }
        "HighErrorRate" | "ElevatedErrorRate" => {
            let (f, q) = ratio(
                "http_requests_total",
                "status=\"500\"",
                "status=\"200\"",
                &job_sel,
            );
            (f, q, "20m")
        }
        "HighLatency" | "VeryHighLatency" => (
            histogram("http_request_duration_seconds", true, &job_sel),
            histogram("http_request_duration_seconds", false, &job_sel),
            "20m",
        ),
        "DatabaseSlow" => (
            histogram("db_query_duration_seconds", true, &job_sel),
            histogram("db_query_duration_seconds", false, &job_sel),
            "20m",
        ),
        "DatabaseErrors" => {
            let (f, q) = ratio(
                "db_queries_total",
                "status=\"error\"",
                "status=\"success\"",
                &job_sel,
            );
            (f, q, "20m")
        }
        "EventProcessingErrors" => {
            let (f, q) = ratio(
                "events_processed_total",
                "status=\"error\"",
                "status=\"success\"",
                &job_sel,
            );
            (f, q, "20m")
        }
        "EventBacklog" => {
            extra.insert("queue".into(), "profile.*".into());
            let q = format!("queue_size{{{job_sel},queue=\"profile.*\"}}");
            (vec![s(q.clone(), "5000x30")], vec![s(q, "10x30")], "20m")
        }
        "HighMemory" => {
            extra.insert("job".into(), job.into());
            let m = format!("process_resident_memory_bytes{{{job_sel}}}");
            (
                vec![s(m.clone(), "4000000000x30")],
                vec![s(m, "100000000x30")],
                "20m",
            )
        }
        "HighCpu" => {
            extra.insert("job".into(), job.into());
            let m = format!("process_cpu_seconds_total{{{job_sel}}}");
            (vec![s(m.clone(), "0+60x30")], vec![s(m, "0+6x30")], "25m")
        }
        "RuntimeSchedulingDelay" => {
            extra.insert("job".into(), job.into());
            let m = format!("tokio_scheduling_delay_seconds{{{job_sel}}}");
            (vec![s(m.clone(), "0.5x30")], vec![s(m, "0.001x30")], "20m")
        }
        "DependencyHealthFailing" => {
            let check = &rule.labels["check"];
            extra.insert("job".into(), job.into());
            extra.insert("name".into(), check.clone());
            let m = format!("health_check_status{{{job_sel},name=\"{check}\"}}");
            (vec![s(m.clone(), "0x10")], vec![s(m, "1x10")], "5m")
        }
        "ErrorBudgetBurnFast" | "ErrorBudgetBurnSlow" => {
            let selector = format!(
                "{job_sel},function=\"{}\",module=\"{}\"",
                capture(&rule.expr, "function"),
                capture(&rule.expr, "module")
            );
            let calls = |bad: &str| {
                vec![
                    s(
                        format!("function_calls_total{{{selector},result=\"error\"}}"),
                        bad,
                    ),
                    s(
                        format!("function_calls_total{{{selector},result=\"ok\"}}"),
                        "0+60x480",
                    ),
                ]
            };
            (calls("0+600x480"), calls("0x480"), "7h")
        }
        "LatencyBudgetBurnFast" | "LatencyBudgetBurnSlow" => {
            let selector = format!(
                "{job_sel},function=\"{}\",module=\"{}\"",
                capture(&rule.expr, "function"),
                capture(&rule.expr, "module")
            );
            let le = capture(&rule.expr, "le");
            let calls = |within: &str| {
                vec![
                    s(
                        format!("function_calls_duration_seconds_bucket{{{selector},le=\"{le}\"}}"),
                        within,
                    ),
                    s(
                        format!("function_calls_duration_seconds_count{{{selector}}}"),
                        "0+600x480",
                    ),
                ]
            };
            (calls("0+6x480"), calls("0+600x480"), "7h")
        }
        other => panic!("no synthetic case for the alert {other}: add one"),
    };
    (fire, quiet, at, extra)
}

fn series_yaml(series: &[(String, String)]) -> String {
    series
        .iter()
        .map(|(name, values)| {
            format!(
                "      - series: {}\n        values: {}\n",
                json_str(name),
                json_str(values)
            )
        })
        .collect()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn every_alert_fires_on_its_synthetic_series_and_only_then() {
    let dir = temp_dir("promtool-test");
    let mut tested = 0;
    for service in SERVICES {
        let text = std::fs::read_to_string(committed().join(service).join("prometheus/rules.yml"))
            .unwrap();
        let rules_file = dir.join(format!("{service}.rules.yml"));
        std::fs::write(&rules_file, without_annotations(&text)).unwrap();
        let rules = rules_of(&text);
        let mut tests = String::new();
        for rule in &rules {
            let (fire, quiet, at, extra) = case(rule, service);
            let mut labels = rule.labels.clone();
            labels.extend(extra);
            let labels: String = labels
                .iter()
                .map(|(k, v)| format!("              {k}: {}\n", json_str(v)))
                .collect();
            tests.push_str(&format!(
                "  - interval: 1m\n    name: {}\n    input_series:\n{}    alert_rule_test:\n      - eval_time: {at}\n        alertname: {}\n        exp_alerts:\n          - exp_labels:\n{labels}",
                json_str(&format!("{service} {} fires", rule.alert)),
                series_yaml(&fire),
                rule.alert
            ));
            tests.push_str(&format!(
                "  - interval: 1m\n    name: {}\n    input_series:\n{}    alert_rule_test:\n      - eval_time: {at}\n        alertname: {}\n        exp_alerts: []\n",
                json_str(&format!("{service} {} stays silent", rule.alert)),
                series_yaml(&quiet),
                rule.alert
            ));
            tested += 1;
        }
        let test_file = dir.join(format!("{service}.test.yml"));
        std::fs::write(
            &test_file,
            format!(
                "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n{tests}",
                json_str(rules_file.to_str().unwrap())
            ),
        )
        .unwrap();
        let out = promtool(&["test", "rules", test_file.to_str().unwrap()], &dir);
        assert!(
            out.status.success(),
            "{service}: promtool test rules failed ({}):\n{}{}",
            test_file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(tested >= SERVICES.len() * 12, "{tested} alerts tested");
}

/// Every `metric{labels}` selector of an expression.
fn selectors(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    for (i, _) in expr.match_indices('{') {
        let start = expr[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |p| p + 1);
        let end = i + expr[i..].find('}').unwrap() + 1;
        if start < i && !bytes[start].is_ascii_digit() {
            out.push(expr[start..end].to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_platform_and_evaluates_every_expression() {
    let platform = Platform::start(&[]);
    let dir = temp_dir("prometheus");
    generate(&dir, platform.base);
    // Scrape and evaluate every second, not every 15 s, for a test.
    let config = std::fs::read_to_string(dir.join("prometheus.yml"))
        .unwrap()
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s");
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let prometheus = Prometheus::start_in(&dir, &[]).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    // Traffic, so the HTTP, database and event families have series.
    let gateway = platform.addr("api-gateway");
    for path in [
        "/v1/profile/user123",
        "/v1/profile/nobody",
        "/v1/buddies/user123",
    ] {
        client
            .get(format!("http://{gateway}{path}"))
            .send()
            .await
            .unwrap();
    }
    client
        .put(format!("http://{gateway}/v1/profile/user456"))
        .body(r#"{"name":"G. Hopper"}"#)
        .send()
        .await
        .unwrap();
    client
        .post(format!("http://{gateway}/v1/sessions/import"))
        .body("user_id,mentor,minutes\nuser123,m1,30\n")
        .send()
        .await
        .unwrap();

    // Every target up (Prometheus 2.42 reports a new target after several seconds).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = prometheus.answer("up == 1").await;
        let count = up["data"]["result"].as_array().map_or(0, Vec::len);
        if count == SERVICES.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {count} of 7 targets up: {up}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Two more scrapes after the traffic, so `rate` has two samples everywhere.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The rules: every group loaded, every rule evaluated without error.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rules = prometheus.api("/api/v1/rules").await;
        let groups = rules["data"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let all: Vec<&serde_json::Value> = groups
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .collect();
        let failing: Vec<String> = all
            .iter()
            .filter(|r| r["health"] == "err")
            .map(|r| format!("{}: {}", r["name"], r["lastError"]))
            .collect();
        assert!(failing.is_empty(), "rules fail to evaluate: {failing:?}");
        if groups.len() == SERVICES.len() && all.iter().all(|r| r["health"] == "ok") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rules not all evaluated: {} groups",
            groups.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Nothing fires on a healthy platform.
    let alerts = prometheus.api("/api/v1/alerts").await;
    let firing: Vec<&serde_json::Value> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "firing")
        .collect();
    assert!(
        firing.is_empty(),
        "alerts firing on a healthy platform: {firing:?}"
    );

    // Every expression of every panel and rule evaluates; panels over series the platform
    // has return data.
    let mut evaluated = 0;
    let mut with_data = 0;
    let mut exprs: Vec<(String, String)> = Vec::new();
    for (service, file, dashboard) in dashboards() {
        for (expr, title) in panel_queries(&dashboard) {
            exprs.push((expr, format!("{service}/{file}: {title}")));
        }
    }
    let rule_exprs: BTreeSet<String> = SERVICES
        .iter()
        .flat_map(|s| {
            rules_of(
                &std::fs::read_to_string(committed().join(s).join("prometheus/rules.yml")).unwrap(),
            )
        })
        .map(|r| r.expr)
        .collect();
    for (expr, at) in &exprs {
        let answer = prometheus.answer(expr).await;
        assert_eq!(answer["status"], "success", "{at}: {expr}: {answer}");
        evaluated += 1;
        let mut present = true;
        for selector in selectors(expr) {
            let count = prometheus.answer(&format!("count({selector})")).await;
            present &= count["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty());
        }
        if present {
            let result = answer["data"]["result"].as_array().unwrap();
            assert!(
                !result.is_empty(),
                "{at}: no data for {expr}, although its series exist"
            );
            with_data += 1;
        }
    }
    for expr in &rule_exprs {
        let answer = prometheus.answer(expr).await;
        assert_eq!(answer["status"], "success", "rule {expr}: {answer}");
        evaluated += 1;
    }
    println!("{evaluated} expressions evaluated, {with_data} panels with data");
    // The platform emits HTTP, database, event, function, health, process and runtime
    // series: most panels must have had something to show.
    assert!(
        with_data * 10 >= exprs.len() * 7,
        "{with_data} of {} panels had data",
        exprs.len()
    );
    let status = platform.stop();
    assert!(status.success());
}
