//! `GET /metrics` over a real loopback socket: every series exists at 0 before any call,
//! exact numbers after known calls, and the exposition passes the real `promtool`.

use std::time::Duration;

use teei_obs::counted;
use teei_obs_tests::{request, sample, serve};

#[counted(duration, concurrent)]
async fn checkout(fail: bool) -> Result<(), String> {
    tokio::task::yield_now().await;
    if fail {
        Err("card declined".into())
    } else {
        Ok(())
    }
}

#[counted]
async fn stuck() {
    std::future::pending::<()>().await;
}

#[counted(name = "Cart::add")]
fn add(panics: bool) -> u8 {
    assert!(!panics, "cart is full");
    1
}

fn series(function: &str, result: &str) -> String {
    format!(
        r#"function_calls_total{{function="{function}",module="metrics_http",result="{result}"}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_start_at_zero_then_show_exact_counts_and_pass_promtool() {
    let obs = teei_obs::init(teei_obs::Config::new("metrics-test")).expect("valid registry");
    let custom = prometheus::IntCounter::new("orders_placed_total", "Orders placed").unwrap();
    obs.registry().register(Box::new(custom.clone())).unwrap();
    let addr = serve(obs.router()).await;

    let before = request(addr, "GET", "/metrics").await.unwrap();
    assert_eq!(before.status, 200);
    assert!(
        before
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let entries: Vec<_> = teei_obs::registry::functions().collect();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        for result in ["ok", "error", "panic", "cancelled"] {
            let series = series(entry.name(), result);
            assert_eq!(sample(&before.body, &series), Some(0.0), "{series}");
        }
    }
    let labels = r#"{function="checkout",module="metrics_http"}"#;
    assert_eq!(
        sample(&before.body, &format!("function_calls_concurrent{labels}")),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &before.body,
            &format!("function_calls_duration_seconds_count{labels}")
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &before.body,
            r#"function_calls_duration_seconds_bucket{function="checkout",module="metrics_http",le="0.005"}"#
        ),
        Some(0.0)
    );
    assert_eq!(sample(&before.body, "orders_placed_total"), Some(0.0));
    promtool_check(&before.body);

    for _ in 0..3 {
        checkout(false).await.unwrap();
    }
    checkout(true).await.unwrap_err();
    for _ in 0..2 {
        assert!(
            tokio::time::timeout(Duration::from_millis(1), stuck())
                .await
                .is_err()
        );
    }
    add(false);
    assert!(std::panic::catch_unwind(|| add(true)).is_err());
    custom.inc_by(4);

    let after = request(addr, "GET", "/metrics").await.unwrap();
    let expected = [
        ("checkout", "ok", 3.0),
        ("checkout", "error", 1.0),
        ("checkout", "panic", 0.0),
        ("stuck", "cancelled", 2.0),
        ("stuck", "ok", 0.0),
        ("Cart::add", "ok", 1.0),
        ("Cart::add", "panic", 1.0),
    ];
    for (function, result, value) in expected {
        assert_eq!(
            sample(&after.body, &series(function, result)),
            Some(value),
            "{function} {result}"
        );
    }
    assert_eq!(
        sample(
            &after.body,
            &format!("function_calls_duration_seconds_count{labels}")
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(&after.body, &format!("function_calls_concurrent{labels}")),
        Some(0.0)
    );
    assert_eq!(sample(&after.body, "orders_placed_total"), Some(4.0));
    promtool_check(&after.body);

    let head = request(addr, "HEAD", "/metrics").await.unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

/// Runs the real `promtool check metrics` on `text`; any finding fails the test.
fn promtool_check(text: &str) {
    // promtool exits 0 on empty input: make sure there is something to check.
    assert!(
        text.contains("# TYPE function_calls_total counter"),
        "{text}"
    );
    let output = teei_obs_tests::run_with_input(
        "promtool",
        &["check", "metrics"],
        text,
        "the README test command installs Debian's `prometheus`",
    );
    let findings = format!("{}{}", output.stdout, output.stderr);
    assert!(output.success, "promtool failed: {findings}\n---\n{text}");
    assert_eq!(
        findings.trim(),
        "",
        "promtool findings:\n{findings}\n---\n{text}"
    );
}
