//! `/metrics` in OpenMetrics with exemplars: negotiated by `Accept`; the classic format
//! accepted by `promtool check metrics`; the OpenMetrics one scraped by a real Prometheus
//! (exemplar storage on) without a scrape error, its stored exemplars leading to spans the
//! service recorded. (Debian's promtool, 2.42, parses only the classic format: its
//! `check metrics` refuses any exemplar, so the OpenMetrics text is validated whole by the
//! Prometheus project's OpenMetrics parser in its Python client and by the parser a scrape
//! runs, and without exemplars by promtool too.)

use std::time::{Duration, Instant};

use axum::routing::get;
use teei_obs::trace::Sampler;
use teei_obs::{counted, traced};
use teei_obs_tests::servers::{Prometheus, percent_encode};
use teei_obs_tests::{request, request_with_headers, run_with_input, serve};

/// The service's standard families, for the handler's database query.
static STANDARD: std::sync::OnceLock<teei_obs::metrics::StandardMetrics> =
    std::sync::OnceLock::new();

#[counted(duration, objective(success = 99.9, latency = 0.25, within = 99))]
#[traced]
async fn lookup(id: u32) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if let Some(metrics) = STANDARD.get() {
        metrics.db_query("SELECT", "orders", true, Duration::from_millis(2));
    }
    Ok(id * 2)
}

const OPENMETRICS: &str =
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3";

/// The Prometheus project's own OpenMetrics parser (its Python client, Debian's
/// `python3-prometheus-client`) reads `exposition` whole: `# EOF`, exemplars and all.
fn openmetrics_parser_accepts(exposition: &str) {
    let script = "import sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        families = list(text_string_to_metric_families(sys.stdin.read()))\n\
        print(len(families), sum(1 for f in families for s in f.samples if s.exemplar))";
    let output = run_with_input(
        "/usr/bin/python3",
        &["-c", script],
        exposition,
        "install Debian's python3-prometheus-client (scripts/test does)",
    );
    assert!(
        output.success,
        "the OpenMetrics parser refused the exposition: {}\n{exposition}",
        output.stderr
    );
    let exemplars: usize = output
        .stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        exemplars > 0,
        "the parser read no exemplar: {}",
        output.stdout
    );
}

fn promtool_accepts(exposition: &str) {
    let output = run_with_input(
        "promtool",
        &["check", "metrics"],
        exposition,
        "install Debian's prometheus (scripts/test does)",
    );
    let said = format!("{}{}", output.stdout, output.stderr);
    // Lint findings (naming advice) are fine; a parse error is not.
    assert!(
        !said.contains("error while linting") && !said.contains("text format parsing error"),
        "promtool refused the exposition: {said}\n{exposition}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_stores_exemplars_that_lead_to_recorded_spans() {
    let obs = teei_obs::init(
        teei_obs::Config::new("exemplars")
            .sampler(Sampler::AlwaysOn)
            .trace_export(teei_obs::config::TraceExport::Memory),
    )
    .unwrap();
    STANDARD.set(obs.standard_metrics().clone()).unwrap();
    let routes = axum::Router::new()
        .route(
            "/orders/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                    lookup(id).await.map(|n| n.to_string()).unwrap_or_default()
                },
            ),
        )
        .layer(obs.request_layer());
    let addr = serve(obs.router().merge(routes)).await;
    for id in 0..20 {
        assert_eq!(
            request(addr, "GET", &format!("/orders/{id}"))
                .await
                .unwrap()
                .status,
            200
        );
    }

    // Negotiated: OpenMetrics for who asks, with exemplars; the classic format otherwise.
    let open = request_with_headers(addr, "GET", "/metrics", &[("accept", OPENMETRICS)])
        .await
        .unwrap();
    assert!(
        open.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        open.header("content-type")
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    let exemplar_line = open
        .body
        .lines()
        .find(|l| l.starts_with("http_request_duration_seconds_bucket") && l.contains(" # {"))
        .unwrap_or_else(|| panic!("no HTTP exemplar in\n{}", open.body));
    assert!(exemplar_line.contains("trace_id=\""), "{exemplar_line}");
    assert!(
        open.body
            .lines()
            .any(|l| l.starts_with("function_calls_duration_seconds_bucket")
                && l.contains("function=\"lookup\"")
                && l.contains(" # {trace_id=")),
        "no function exemplar in\n{}",
        open.body
    );
    assert!(
        open.body
            .lines()
            .any(|l| l.starts_with("function_calls_total{")
                && l.contains("result=\"ok\"")
                && l.contains(" # {trace_id=")),
        "no call exemplar in\n{}",
        open.body
    );
    assert!(
        open.body
            .lines()
            .any(|l| l.starts_with("db_query_duration_seconds_bucket{")
                && l.contains(" # {trace_id=")),
        "no database exemplar in\n{}",
        open.body
    );
    // Autometrics' labels: build_info to join on, objective labels for the SLO rules.
    assert!(
        open.body.lines().any(|l| l.starts_with("build_info{")
            && l.contains("service_name=\"exemplars\"")
            && l.ends_with(" 1")),
        "{}",
        open.body
    );
    assert!(
        open.body.lines().any(
            |l| l.starts_with("function_calls_total{function=\"lookup\"")
                && l.contains("objective_name=\"lookup\",objective_percentile=\"99.9\"")
        ),
        "{}",
        open.body
    );
    assert!(
        open.body.lines().any(|l| l.starts_with("function_calls_duration_seconds_bucket{function=\"lookup\"")
            && l.contains("objective_latency_threshold=\"0.25\",objective_name=\"lookup\",objective_percentile=\"99\"")),
        "{}",
        open.body
    );
    let classic = request(addr, "GET", "/metrics").await.unwrap();
    assert!(
        classic
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain"))
    );
    assert!(!classic.body.contains("# EOF"));
    promtool_accepts(&classic.body);
    openmetrics_parser_accepts(&open.body);
    // The OpenMetrics text less its exemplars and `# EOF` is classic-format text.
    let plain: String = open
        .body
        .lines()
        .filter(|line| *line != "# EOF")
        .map(|line| line.split(" # {").next().unwrap_or(line))
        .map(|line| format!("{line}\n"))
        .collect();
    promtool_accepts(&plain);

    // A real Prometheus scrapes it and keeps the exemplars.
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: exemplars\n    static_configs:\n      - targets: ['{addr}']\n"
    );
    let prometheus = Prometheus::start(&config, &["--enable-feature=exemplar-storage"]).await;
    let recorded: Vec<String> = obs
        .recent_spans()
        .iter()
        .map(|span| format!("{:032x}", span.span_context.trace_id()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let exemplars = loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let answer = prometheus
            .api(&format!(
                "/api/v1/query_exemplars?query={}&start={}&end={}",
                percent_encode("http_request_duration_seconds_bucket"),
                now - 600,
                now + 60
            ))
            .await;
        let found: Vec<serde_json::Value> = answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no exemplars stored in 30 s: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Scraped as OpenMetrics (only that format carries exemplars), without an error.
    let targets = prometheus.api("/api/v1/targets").await;
    let target = &targets["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");
    let trace_ids: Vec<&str> = exemplars
        .iter()
        .filter_map(|e| e["labels"]["trace_id"].as_str())
        .collect();
    assert!(
        trace_ids.iter().any(|id| recorded.iter().any(|r| r == id)),
        "exemplar traces {trace_ids:?} are not among the recorded spans' {recorded:?}"
    );
    println!(
        "Prometheus stored {} exemplar(s) for http_request_duration_seconds_bucket",
        exemplars.len()
    );

    // The request-rate and error-ratio queries autometrics publishes (its macro writes them
    // into doc comments; its explorer and editor extension run them) return data.
    const BUILD_INFO: &str =
        "* on (instance, job) group_left(version, commit) last_over_time(build_info[1s])";
    let request_rate = format!(
        "sum by (function, module, service_name, commit, version) (rate({{__name__=~\"function_calls(_count)?(_total)?\",function=\"lookup\"}}[5m]) {BUILD_INFO})"
    );
    let error_ratio = format!(
        "(sum by (function, module, service_name, commit, version) (rate({{__name__=~\"function_calls(_count)?(_total)?\",function=\"lookup\",result=\"error\"}}[5m]) {BUILD_INFO}))\n/\n({request_rate})"
    );
    for (panel, expr) in [
        ("request rate", &request_rate),
        ("error ratio", &error_ratio),
    ] {
        let deadline = Instant::now() + Duration::from_secs(30);
        let result = loop {
            let result = prometheus.query(expr).await;
            if !result.is_empty() {
                break result;
            }
            assert!(Instant::now() < deadline, "{panel}: no data for {expr}");
            // More calls, so the rate over the scrapes is not empty.
            let _ = request(addr, "GET", "/orders/1").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert_eq!(
            result[0]["metric"]["function"], "lookup",
            "{panel}: {result:?}"
        );
        println!("autometrics {panel}: {}", result[0]["value"][1]);
    }
}
