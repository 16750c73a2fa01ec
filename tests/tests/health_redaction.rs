//! A failing check's message leaves the process — in `/health`, in the console, in the
//! "health check failing" log line — so it passes the redaction policy first, like every
//! other place data leaves: a client error that quotes the URL it called, with the
//! password of its user-info and a token in its query, or a panic that quotes a secret,
//! shows neither, and the rest of the message stays.

use teei_obs::health_check;
use teei_obs_tests::{dependency_message, request, serve};

#[health_check(kind = "http", name = "billing-api", timeout = "1s", interval = "10s")]
async fn billing_api() -> Result<(), String> {
    Err("error sending request for url (https://svc:hunter2-pass@billing.internal/health?api_key=AKIAIOSFODNN7EXAMPLE): connection refused; on call ada@example.com".to_owned())
}

#[health_check(kind = "custom", name = "vault", timeout = "1s", interval = "10s")]
async fn vault() -> Result<(), String> {
    panic!("token Bearer s3cr3t-vault-token-value rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_check_messages_are_redacted_wherever_they_go() {
    // The check's panic is expected; the test's own are not.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|message| message.starts_with("token Bearer"));
        if !expected {
            default(info);
        }
    }));
    let obs = teei_obs::init(teei_obs::Config::new("health-redaction").capture_logs(true)).unwrap();
    let addr = serve(obs.router()).await;
    let response = request(addr, "GET", "/health").await.unwrap();
    assert_eq!(response.status, 503, "{}", response.body);

    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let message = |name: &str| {
        dependency_message(&body, name).unwrap_or_else(|| panic!("no message for {name}: {body}"))
    };
    let billing = message("billing-api");
    let vault = message("vault");
    for secret in [
        "hunter2-pass",
        "AKIAIOSFODNN7EXAMPLE",
        "ada@example.com",
        "s3cr3t-vault-token-value",
    ] {
        assert!(
            !response.body.contains(secret),
            "{secret} in /health: {}",
            response.body
        );
    }
    // Redacted in place: what failed and why is still there.
    assert!(billing.contains("billing.internal"), "{billing}");
    assert!(billing.contains("connection refused"), "{billing}");
    assert!(billing.contains("[REDACTED"), "{billing}");
    assert!(vault.contains("check panicked: token"), "{vault}");
    assert!(vault.contains("rejected"), "{vault}");

    // The "health check failing" log lines carry the same redacted messages.
    let logs = obs.recent_logs();
    let failing: Vec<&String> = logs
        .iter()
        .filter(|line| line.contains("health check failing"))
        .collect();
    assert_eq!(failing.len(), 2, "{logs:#?}");
    for line in failing {
        assert!(line.contains("[REDACTED"), "{line}");
        assert!(
            !line.contains("hunter2-pass") && !line.contains("vault-token"),
            "{line}"
        );
    }
}
