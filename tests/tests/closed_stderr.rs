//! A service whose standard error has no reader any more (the terminal or the log
//! collector went away) keeps serving: every write there fails with `EPIPE`, so the log
//! lines and the spans of `OTEL_TRACES_EXPORTER=console` are lost — and counted as dropped
//! spans — but no request fails and the process still exits cleanly.

use std::io::BufRead;
use std::process::{Command, Stdio};

use teei_obs_tests::{request, spawn_listening};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_loses_output_not_requests() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graceful"));
    command
        .arg("0")
        .env("OTEL_TRACES_EXPORTER", "console")
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .env("RUST_LOG", "info")
        // Nobody reads its standard error: the pipe's read end is closed once it runs.
        .stderr(Stdio::piped());
    let (mut child, addr, stdout) = spawn_listening(command);
    drop(child.stderr.take());

    for _ in 0..3 {
        let response = request(addr, "GET", "/slow").await.unwrap();
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.body, "done");
    }
    let metrics = request(addr, "GET", "/metrics").await.unwrap();
    let dropped = teei_obs_tests::sample(
        &metrics.body,
        r#"teei_obs_spans_dropped_total{reason="export_failed"}"#,
    );
    assert!(
        dropped.is_some_and(|n| n >= 3.0),
        "the three server spans are not counted as dropped: {dropped:?}\n{}",
        metrics.body
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    for line in stdout.lines() {
        rest.push_str(&line.unwrap());
        rest.push('\n');
    }
    assert!(status.success(), "exited with {status}: {rest}");
    assert!(rest.contains("exited cleanly"), "{rest}");
}
