//! The quickstart example, run for 10 s as a user would: every failed order is one ERROR
//! line — the error passes two `#[traced(err)]` functions, and is reported where it
//! appeared — each in its own trace.

use std::collections::HashSet;
use std::process::Command;

#[test]
fn the_quickstart_writes_one_error_line_per_failed_order() {
    // The example as the test tree has it (`cargo test --test quickstart` alone builds no
    // example): built first, through the cargo running this test.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "teei-obs-examples",
            "--example",
            "quickstart",
        ])
        .status()
        .expect("cargo build --example quickstart");
    assert!(built.success());
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples/quickstart");
    assert!(
        example.exists(),
        "{} is built by cargo test",
        example.display()
    );
    let output = Command::new(&example)
        .args(["--seconds", "10", "--port", "0"])
        .env("LOG_FORMAT", "json")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SENTRY_DSN")
        .output()
        .expect("run the quickstart");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failed: usize = stdout
        .lines()
        .find_map(|line| line.strip_prefix("quickstart: stopped; "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line in {stdout}"));
    assert!(failed > 0, "orders fail in 10 s: {stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["level"] == "error")
        .collect();
    assert_eq!(
        errors.len(),
        failed,
        "one ERROR line per failed order:\n{stderr}"
    );
    let traces: HashSet<&str> = errors
        .iter()
        .map(|line| line["traceId"].as_str().expect("a trace ID"))
        .collect();
    assert_eq!(traces.len(), failed, "each failed order's trace once");
    for line in &errors {
        assert_eq!(line["msg"], "out of stock", "{line}");
        assert!(
            line["error.type"].as_str().unwrap().ends_with("OrderError"),
            "{line}"
        );
    }
}
