//! Panics in spans: a panic unwinding through `#[traced]` functions, caught by
//! `catch_unwind`, leaves every span it passed with status error and the panic message and
//! an `exception` event with `exception.escaped = true`; it is counted under
//! `result="panic"`, written as no log line of its own, and sent to Sentry once (the real
//! SDK's panic integration, to a local endpoint), linked to the trace. Both wirings, sync
//! and `async`.

use std::time::Duration;

use opentelemetry::trace::Status;
use teei_obs::{counted, traced};
use teei_obs_tests::Wiring;
use teei_obs_tests::sentry_endpoint::{self, Envelopes};

static SETUP: std::sync::OnceLock<(teei_obs::Obs, Envelopes)> = std::sync::OnceLock::new();

fn setup() -> &'static (teei_obs::Obs, Envelopes) {
    SETUP.get_or_init(|| {
        // Keep the expected panics quiet; the hooks of Sentry and teei-obs wrap this one.
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.to_string().contains("boom") {
                default(info);
            }
        }));
        sentry_endpoint::observed("exploding", false)
    })
}

#[counted]
#[traced]
fn explode(n: u64) -> u64 {
    assert!(n == 0, "boom {n}");
    n
}

#[traced]
fn caller(n: u64) -> u64 {
    explode(n) + 1
}

#[traced]
async fn explode_async(n: u64) -> u64 {
    tokio::task::yield_now().await;
    assert!(n == 0, "boom {n}");
    n
}

#[traced]
async fn caller_async(n: u64) -> u64 {
    explode_async(n).await + 1
}

fn check(obs: &teei_obs::Obs, envelopes: &Envelopes, n: u64, names: [&str; 2]) {
    let message = format!("boom {n}");
    let spans = obs.recent_spans();
    let trace = spans
        .iter()
        .rev()
        .find(|s| s.name == names[0])
        .expect("the caller's span")
        .span_context
        .trace_id();
    let ours: Vec<_> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect();
    assert_eq!(ours.len(), 2, "{ours:#?}");
    for span in &ours {
        assert_eq!(span.status, Status::error(message.clone()), "{}", span.name);
        let event = span
            .events
            .iter()
            .find(|e| e.name == "exception")
            .unwrap_or_else(|| panic!("{}: an exception event", span.name));
        let attribute = |key: &str| {
            event
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(attribute("exception.escaped").as_deref(), Some("true"));
        assert_eq!(
            attribute("exception.message").as_deref(),
            Some(message.as_str())
        );
    }
    // No log line per level: span events only.
    let lines: Vec<_> = obs
        .recent_logs()
        .into_iter()
        .filter(|line| line.contains(&message))
        .collect();
    assert!(lines.is_empty(), "{lines:?}");
    // One Sentry event: the panic integration's, with the trace.
    assert!(obs.flush_errors(Duration::from_secs(5)));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let find = || {
        envelopes
            .events()
            .into_iter()
            .filter(|e| e.to_string().contains(&message))
            .collect::<Vec<_>>()
    };
    while find().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let events = find();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(
        events[0]["contexts"]["trace"]["trace_id"],
        format!("{trace:032x}"),
        "{}",
        events[0]
    );
}

#[test]
fn a_panic_marks_every_span_it_unwinds_through_and_is_reported_once() {
    let (obs, envelopes) = setup();
    for (wiring, n) in [(Wiring::Fast, 1), (Wiring::Composed, 2)] {
        let caught = tracing::dispatcher::with_default(&wiring.dispatch(obs), || {
            std::panic::catch_unwind(|| caller(n))
        });
        assert!(caught.is_err());
        check(obs, envelopes, n, ["caller", "explode"]);
    }
    for (wiring, n) in [(Wiring::Fast, 3), (Wiring::Composed, 4)] {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wiring.run(obs, caller_async(n))
        }));
        assert!(caught.is_err());
        check(obs, envelopes, n, ["caller_async", "explode_async"]);
    }
    let panics = teei_obs::registry::functions()
        .find(|f| f.name() == "explode" && f.metrics().is_some())
        .and_then(|f| f.metrics())
        .unwrap()
        .calls(teei_obs::metrics::Outcome::Panic);
    assert_eq!(panics, 2, "counted under result=\"panic\"");
    // A call that returns normally leaves its span alone.
    tracing::dispatcher::with_default(&Wiring::Fast.dispatch(obs), || assert_eq!(caller(0), 1));
    let spans = obs.recent_spans();
    let last = spans.iter().rev().find(|s| s.name == "caller").unwrap();
    assert_eq!(last.status, Status::Unset);
}
