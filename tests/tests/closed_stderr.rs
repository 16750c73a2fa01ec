//! A service whose standard error has no reader any more (the terminal or the log
//! collector went away) keeps serving: every write there fails with `EPIPE`, so the log
//! lines and the spans of `OTEL_TRACES_EXPORTER=console` are lost — and counted as dropped
//! spans — but no request fails and the process still exits cleanly.

use std::io::BufRead;
use std::process::{Command, Stdio};

use teei_obs_tests::request;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_loses_output_not_requests() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graceful"))
        .arg("0")
        .env("OTEL_TRACES_EXPORTER", "console")
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the graceful example");
    // Nobody reads its standard error from now on.
    drop(child.stderr.take());
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();

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
