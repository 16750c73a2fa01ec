//! One error, one report: an error returned through three nested `#[traced(err)]`
//! functions (converted by `?` and `From` at each level) marks the three spans with status
//! error but writes one ERROR line and sends one Sentry event (the real SDK transport to a
//! local endpoint) that names the three spans; a function that recovers from its callee's
//! error and then fails on its own is reported too, each error once; a plain span or a
//! `#[traced]` function without `err` between two traced functions does not hide the inner
//! report. Both wirings, sync and `async`.

use std::time::Duration;

use opentelemetry::trace::Status;
use teei_obs::traced;
use teei_obs_tests::Wiring;
use teei_obs_tests::sentry_endpoint::{self, Envelopes};

static SETUP: std::sync::OnceLock<(teei_obs::Obs, Envelopes)> = std::sync::OnceLock::new();

/// One Sentry client per process: the tests of this binary share it.
fn setup() -> &'static (teei_obs::Obs, Envelopes) {
    SETUP.get_or_init(|| sentry_endpoint::observed("orders", false))
}

#[derive(Debug)]
struct OutOfStock(u64);
impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "out of stock: item {}", self.0)
    }
}
impl std::error::Error for OutOfStock {}

#[derive(Debug)]
struct ReserveError(OutOfStock);
impl std::fmt::Display for ReserveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reservation failed")
    }
}
impl std::error::Error for ReserveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
impl From<OutOfStock> for ReserveError {
    fn from(error: OutOfStock) -> Self {
        ReserveError(error)
    }
}

#[derive(Debug)]
enum OrderError {
    Reserve(ReserveError),
    Payment(u64),
}
impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderError::Reserve(_) => f.write_str("order failed"),
            OrderError::Payment(n) => write!(f, "payment declined: order {n}"),
        }
    }
}
impl std::error::Error for OrderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OrderError::Reserve(error) => Some(error),
            OrderError::Payment(_) => None,
        }
    }
}
impl From<ReserveError> for OrderError {
    fn from(error: ReserveError) -> Self {
        OrderError::Reserve(error)
    }
}

#[traced(err)]
fn take_stock(item: u64) -> Result<(), OutOfStock> {
    Err(OutOfStock(item))
}

#[traced(err)]
fn reserve(item: u64) -> Result<(), ReserveError> {
    take_stock(item)?;
    Ok(())
}

#[traced(err)]
fn place_order(item: u64) -> Result<(), OrderError> {
    reserve(item)?;
    Ok(())
}

/// Recovers from the stock error, then fails on its own.
#[traced(err)]
fn place_order_or_backorder(item: u64) -> Result<(), OrderError> {
    if take_stock(item).is_err() {
        // Back-ordered: not a failure of this order.
    }
    Err(OrderError::Payment(item))
}

#[traced(err)]
async fn take_stock_async(item: u64) -> Result<(), OutOfStock> {
    tokio::task::yield_now().await;
    Err(OutOfStock(item))
}

#[traced(err)]
async fn reserve_async(item: u64) -> Result<(), ReserveError> {
    take_stock_async(item).await?;
    tokio::task::yield_now().await;
    Ok(())
}

#[traced(err)]
async fn place_order_async(item: u64) -> Result<(), OrderError> {
    reserve_async(item).await?;
    Ok(())
}

/// The ERROR lines whose message mentions `text`.
fn error_lines(obs: &teei_obs::Obs, text: &str) -> Vec<serde_json::Value> {
    obs.recent_logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["level"] == "error" && line.to_string().contains(text))
        .collect()
}

/// The Sentry events that mention `text`, once the transport had time to deliver.
fn sentry_events(
    obs: &teei_obs::Obs,
    envelopes: &Envelopes,
    text: &str,
    at_least: usize,
) -> Vec<serde_json::Value> {
    assert!(obs.flush_errors(Duration::from_secs(5)));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let events: Vec<_> = envelopes
            .events()
            .into_iter()
            .filter(|event| event.to_string().contains(text))
            .collect();
        if events.len() >= at_least || std::time::Instant::now() >= deadline {
            // A moment more: a second (wrong) event would arrive with the first.
            std::thread::sleep(Duration::from_millis(300));
            return envelopes
                .events()
                .into_iter()
                .filter(|event| event.to_string().contains(text))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn statuses(obs: &teei_obs::Obs, trace_of: &str) -> Vec<(String, Status)> {
    let spans = obs.recent_spans();
    let trace = spans
        .iter()
        .rev()
        .find(|s| s.name == trace_of)
        .expect("the outer span")
        .span_context
        .trace_id();
    spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .map(|s| (s.name.to_string(), s.status.clone()))
        .collect()
}

fn check_one_report(
    obs: &teei_obs::Obs,
    envelopes: &Envelopes,
    item: u64,
    outer: &str,
    names: [&str; 3],
) {
    let text = format!("out of stock: item {item}");
    // Every span the error passed is an error.
    let spans = statuses(obs, outer);
    assert_eq!(spans.len(), 3, "{spans:?}");
    for (name, status) in &spans {
        assert!(matches!(status, Status::Error { .. }), "{name}: {status:?}");
    }
    // One line, in words a person reads.
    let lines = error_lines(obs, &format!("item {item}"));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["msg"], text.as_str(), "{line}");
    assert!(
        line["error.type"].as_str().unwrap().ends_with("OutOfStock"),
        "{line}"
    );
    assert!(
        line.get("error.chain").is_none(),
        "no source, no chain: {line}"
    );
    assert!(!line.to_string().contains("exception.message"), "{line}");
    // One Sentry event, naming the three spans.
    let events = sentry_events(obs, envelopes, &format!("item {item}"), 1);
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["exception"]["values"][0]["value"], text.as_str());
    assert_eq!(
        event["contexts"]["spans"]["names"],
        serde_json::json!(names),
        "{event}"
    );
    assert_eq!(event["contexts"]["spans"]["innermost"], names[2]);
    assert!(event["contexts"]["trace"]["trace_id"].is_string());
}

#[test]
fn an_error_through_three_levels_is_reported_once_on_both_wirings() {
    let (obs, envelopes) = setup();
    for (wiring, item) in [(Wiring::Fast, 101), (Wiring::Composed, 102)] {
        tracing::dispatcher::with_default(&wiring.dispatch(obs), || {
            assert!(place_order(item).is_err());
        });
        check_one_report(
            obs,
            envelopes,
            item,
            "place_order",
            ["place_order", "reserve", "take_stock"],
        );
    }
    for (wiring, item) in [(Wiring::Fast, 103), (Wiring::Composed, 104)] {
        assert!(wiring.run(obs, place_order_async(item)).is_err());
        check_one_report(
            obs,
            envelopes,
            item,
            "place_order_async",
            ["place_order_async", "reserve_async", "take_stock_async"],
        );
    }
    // Nothing left pending once the spans closed (another test of this binary may hold an
    // entry for the moment between its callee's error and its own return).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while teei_obs::__private::reports::pending() != 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        teei_obs::__private::reports::pending(),
        0,
        "nothing left pending"
    );
}

#[test]
fn a_new_failure_after_a_recovered_one_is_reported_too_each_once() {
    let (obs, envelopes) = setup();
    for (wiring, item) in [(Wiring::Fast, 201), (Wiring::Composed, 202)] {
        tracing::dispatcher::with_default(&wiring.dispatch(obs), || {
            assert!(place_order_or_backorder(item).is_err());
        });
        let stock = error_lines(obs, &format!("out of stock: item {item}"));
        let payment = error_lines(obs, &format!("payment declined: order {item}"));
        assert_eq!(
            (stock.len(), payment.len()),
            (1, 1),
            "{stock:?} {payment:?}"
        );
        let events = sentry_events(obs, envelopes, &format!("item {item}"), 1);
        assert_eq!(events.len(), 1, "the stock error: {events:#?}");
        let events = sentry_events(obs, envelopes, &format!("order {item}"), 1);
        assert_eq!(events.len(), 1, "the payment error: {events:#?}");
        assert_eq!(
            events[0]["contexts"]["spans"]["names"],
            serde_json::json!(["place_order_or_backorder"])
        );
    }
}

#[traced(err)]
fn reserve_directly(item: u64) -> Result<(), ReserveError> {
    Err(ReserveError(OutOfStock(item)))
}

#[test]
fn the_line_names_the_error_its_type_and_its_causes() {
    let (obs, _) = setup();
    for (wiring, item) in [(Wiring::Fast, 301), (Wiring::Composed, 302)] {
        tracing::dispatcher::with_default(&wiring.dispatch(obs), || {
            assert!(reserve_directly(item).is_err());
        });
        let lines = error_lines(obs, &format!("item {item}"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["msg"], "reservation failed");
        assert_eq!(
            lines[0]["error.chain"],
            format!("out of stock: item {item}")
        );
        assert!(
            lines[0]["error.type"]
                .as_str()
                .unwrap()
                .ends_with("ReserveError")
        );
    }
}

/// A plain span of the service's own between two traced functions (a step, a
/// `.instrument(..)`ed future).
#[traced(err)]
fn place_order_in_steps(item: u64) -> Result<(), OrderError> {
    let step = tracing::info_span!("checkout.step", step = "reserve");
    let _entered = step.enter();
    reserve(item)?;
    Ok(())
}

#[traced(err)]
async fn place_order_in_steps_async(item: u64) -> Result<(), OrderError> {
    use tracing::Instrument as _;
    reserve_async(item)
        .instrument(tracing::info_span!("checkout.step", step = "reserve"))
        .await?;
    Ok(())
}

/// Traced without `err`: it records no error of its own, so it passes the report on.
#[traced]
fn reserve_quietly(item: u64) -> Result<(), ReserveError> {
    take_stock(item)?;
    Ok(())
}

#[traced(err)]
fn place_order_quietly(item: u64) -> Result<(), OrderError> {
    reserve_quietly(item)?;
    Ok(())
}

#[test]
fn a_span_that_does_not_decide_between_traced_functions_does_not_hide_the_report() {
    let (obs, envelopes) = setup();
    let once = |item: u64| {
        let lines = error_lines(obs, &format!("item {item}"));
        assert_eq!(lines.len(), 1, "{lines:#?}");
        let events = sentry_events(obs, envelopes, &format!("item {item}"), 1);
        assert_eq!(events.len(), 1, "{events:#?}");
        let names = &events[0]["contexts"]["spans"]["names"];
        assert_eq!(names[0], "place_order_in_steps", "{names}");
        assert_eq!(events[0]["contexts"]["spans"]["innermost"], "take_stock");
    };
    for (wiring, item) in [(Wiring::Fast, 401), (Wiring::Composed, 402)] {
        tracing::dispatcher::with_default(&wiring.dispatch(obs), || {
            assert!(place_order_in_steps(item).is_err());
        });
        once(item);
    }
    let once_async = |item: u64| {
        let lines = error_lines(obs, &format!("item {item}"));
        assert_eq!(lines.len(), 1, "{lines:#?}");
        let events = sentry_events(obs, envelopes, &format!("item {item}"), 1);
        assert_eq!(events.len(), 1, "{events:#?}");
    };
    for (wiring, item) in [(Wiring::Fast, 403), (Wiring::Composed, 404)] {
        assert!(wiring.run(obs, place_order_in_steps_async(item)).is_err());
        once_async(item);
    }
    for (wiring, item) in [(Wiring::Fast, 405), (Wiring::Composed, 406)] {
        tracing::dispatcher::with_default(&wiring.dispatch(obs), || {
            assert!(place_order_quietly(item).is_err());
        });
        once_async(item);
    }
}

/// Starts the reservation as a task of its own, in a `background` span opened inside this
/// function's, and returns before the task has run.
#[traced(err)]
fn start_reservation(
    item: u64,
    go: tokio::sync::oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<Result<(), ReserveError>>, OrderError> {
    use tracing::Instrument as _;
    let task = async move {
        let _ = go.await;
        reserve_async(item).await
    }
    .instrument(tracing::info_span!("background"));
    Ok(tokio::spawn(task))
}

/// Two levels of functions that return before the task ends: `start_reservation`, then
/// this one.
#[traced(err)]
fn prepare_order(
    item: u64,
    go: tokio::sync::oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<Result<(), ReserveError>>, OrderError> {
    start_reservation(item, go)
}

/// Waits for the task `start_reservation` spawned (called directly, or through
/// `prepare_order` when `deeper`) and fails with its error.
#[traced(err)]
async fn place_order_in_background(item: u64, deeper: bool) -> Result<(), OrderError> {
    let (go, wait) = tokio::sync::oneshot::channel();
    let task = if deeper {
        prepare_order(item, wait)?
    } else {
        start_reservation(item, wait)?
    };
    let _ = go.send(());
    task.await.expect("the task ran")?;
    Ok(())
}

#[test]
fn an_error_from_a_task_that_outlived_the_function_that_spawned_it_is_reported_once() {
    let (obs, envelopes) = setup();
    for (wiring, item, deeper) in [
        (Wiring::Fast, 501, false),
        (Wiring::Composed, 502, false),
        (Wiring::Fast, 503, true),
        (Wiring::Composed, 504, true),
    ] {
        assert!(
            wiring
                .run(obs, place_order_in_background(item, deeper))
                .is_err()
        );
        let lines = error_lines(obs, &format!("item {item}"));
        assert_eq!(lines.len(), 1, "{wiring:?}: {lines:#?}");
        let events = sentry_events(obs, envelopes, &format!("item {item}"), 1);
        assert_eq!(events.len(), 1, "{wiring:?}: {events:#?}");
        assert_eq!(
            events[0]["contexts"]["spans"]["innermost"],
            "take_stock_async"
        );
    }
}
