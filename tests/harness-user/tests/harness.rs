//! `teei_obs::testing` used from a crate of its own, as a service's tests would. The two
//! tests below overlap in time on two threads (each waits for the other inside its
//! capture) and each sees only its own spans, lines and calls.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::SpanKind;
use teei_obs_harness_user::{report_outage, reserve, settle};

/// Both tests inside their captures at once, or a failure saying they were not.
fn meet_the_other_test() {
    static ARRIVED: Mutex<u32> = Mutex::new(0);
    static BOTH: Condvar = Condvar::new();
    let mut arrived = ARRIVED.lock().unwrap();
    *arrived += 1;
    BOTH.notify_all();
    let deadline = Instant::now() + Duration::from_secs(20);
    while *arrived < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the other test never ran alongside this one (run with 2+ test threads)"
        );
        arrived = BOTH.wait_timeout(arrived, left).unwrap().0;
    }
}

#[test]
fn reservations_are_traced_logged_and_counted() {
    let capture = teei_obs::testing::capture();
    for quantity in [1, 2, 3] {
        reserve("apple", quantity).unwrap();
    }
    meet_the_other_test();
    reserve("apple", 4).unwrap();

    let spans = capture.spans_named("reserve");
    assert_eq!(spans.len(), 4, "only this test's spans");
    assert!(
        spans
            .iter()
            .all(|s| s.attribute("sku").as_deref() == Some("apple"))
    );
    assert!(spans.iter().all(|s| s.kind() == SpanKind::Server));
    let prices = capture.spans_named("price");
    assert_eq!(prices.len(), 4);
    assert!(
        prices
            .iter()
            .all(|p| spans.iter().any(|r| p.is_child_of(r)))
    );
    assert_eq!(capture.log("reserving")["sku"], "apple");
    assert!(capture.lines().iter().all(|l| l["sku"] != "pear"));
    assert_eq!(
        capture.calls("reserve"),
        teei_obs::testing::Calls {
            ok: 4,
            ..Default::default()
        }
    );
    assert!(capture.sentry_events().is_empty());
}

#[test]
fn a_failed_reservation_and_an_outage_are_errors() {
    let capture = teei_obs::testing::capture();
    reserve("pear", 0).unwrap_err();
    meet_the_other_test();
    report_outage("inventory-db");

    let failed = capture.span("reserve");
    assert!(failed.is_error(), "{:?}", failed.status());
    assert_eq!(failed.attribute("sku").as_deref(), Some("pear"));
    assert!(failed.event_names().contains(&"exception".to_owned()));
    assert_eq!(capture.log("dependency down")["level"], "error");
    let calls = capture.calls("reserve");
    assert_eq!(
        (calls.ok, calls.error),
        (0, 1),
        "the other test's calls are not here"
    );
    settle(12);
    let events = capture.sentry_events();
    let settled = events
        .iter()
        .find(|e| e["tags"]["order"] == "12")
        .unwrap_or_else(|| panic!("the hand-made report is captured: {events:#?}"));
    assert_eq!(
        settled["exception"]["values"][0]["value"],
        "card declined for order 12"
    );
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("dependency down"))),
        "{events:#?}"
    );
    assert!(
        capture
            .spans_named("reserve")
            .iter()
            .all(|s| s.attribute("sku").as_deref() == Some("pear"))
    );
}
