//! Errors and panics reach a local endpoint used as the Sentry DSN (the real SDK and its
//! transport thread run), as exception events — type, `source()` chain, stack trace, trace
//! — with tags, user, request and the request's (or message's) own breadcrumbs only,
//! redacted. (Not named `sentry`: frames of a crate of that name count as the SDK's.)

use std::time::Duration;

use axum::routing::get;
use teei_obs::traced;
use teei_obs_tests::sentry_endpoint::{self, Envelopes};
use teei_obs_tests::{Wiring, request_with_headers, serve};

static SETUP: tokio::sync::OnceCell<(teei_obs::Obs, Envelopes)> =
    tokio::sync::OnceCell::const_new();

/// One Sentry client per process: every test of this binary shares it.
async fn setup() -> &'static (teei_obs::Obs, Envelopes) {
    SETUP.get_or_init(start).await
}

async fn start() -> (teei_obs::Obs, Envelopes) {
    // Keep the expected panic quiet, and only it; Sentry's hook wraps this one.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("handler exploded") {
            default(info);
        }
    }));
    sentry_endpoint::observed("payments", true)
}

/// The error the payment path fails with: a type of its own over an I/O error.
#[derive(Debug)]
struct PaymentError {
    user: String,
    source: std::io::Error,
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "card declined for {}@example.com, password=hunter2",
            self.user
        )
    }
}

impl std::error::Error for PaymentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[traced(err)]
async fn charge(user: &str) -> Result<(), PaymentError> {
    tracing::info!(step = "authorised", "charging {user}");
    Err(PaymentError {
        user: user.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "gateway connection reset",
        ),
    })
}

/// The trace the failing request continues (its `traceparent`).
const FAIL_TRACE: &str = "5af7183fb1d4cf5f4bf92f3577b34da6";

async fn panicking(axum::extract::Path(user): axum::extract::Path<String>) -> &'static str {
    teei_obs::error_tracking::set_user(&user, Some("company-9"), Some("admin"));
    tracing::info!("about to explode");
    tokio::task::yield_now().await;
    panic!("handler exploded on card 4111 1111 1111 1111");
}

async fn failing(axum::extract::Path(user): axum::extract::Path<String>) -> String {
    teei_obs::error_tracking::set_user(&user, None, None);
    match charge(&user).await {
        Ok(()) => "charged".into(),
        Err(_) => "declined".into(),
    }
}

async fn chatty() -> &'static str {
    for _ in 0..5 {
        tracing::info!("chatty neighbour breadcrumb");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    "chatted"
}

fn tag<'a>(event: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    event["tags"][key].as_str().or_else(|| {
        event["tags"]
            .as_array()?
            .iter()
            .find(|pair| pair[0] == key)
            .and_then(|pair| pair[1].as_str())
    })
}

fn breadcrumbs(event: &serde_json::Value) -> Vec<String> {
    let list = event["breadcrumbs"]["values"]
        .as_array()
        .or_else(|| event["breadcrumbs"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|b| b["message"].as_str().map(str::to_owned))
        .collect()
}

/// One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
#[test]
fn a_panic_and_a_traced_error_arrive_with_context_and_only_their_breadcrumbs() {
    let (obs, _) = tokio::runtime::Runtime::new().unwrap().block_on(setup());
    for wiring in Wiring::BOTH {
        wiring.run(obs, panic_and_error(wiring));
    }
}

async fn panic_and_error(wiring: Wiring) {
    let (obs, envelopes) = setup().await;
    let neighbour_id = format!("neighbour-{wiring:?}");
    let panic_id = format!("panic-{wiring:?}");
    let fail_id = format!("fail-{wiring:?}");
    let router = axum::Router::new()
        .route("/panic/{user}", get(panicking))
        .route("/fail/{user}", get(failing))
        .route("/chatty", get(chatty))
        .layer(obs.request_layer());
    let addr = serve(router).await;

    let neighbour = tokio::spawn(async move {
        request_with_headers(
            addr,
            "GET",
            "/chatty",
            &[("x-correlation-id", &neighbour_id)],
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let _ = request_with_headers(
        addr,
        "GET",
        "/panic/u-17",
        &[
            ("x-correlation-id", panic_id.as_str()),
            ("authorization", "Bearer abcdefgh12345678"),
        ],
    )
    .await;
    let traceparent = format!("00-{FAIL_TRACE}-00f067aa0ba902b7-01");
    let failed = request_with_headers(
        addr,
        "GET",
        "/fail/u-18?email=jane.doe@example.com&page=2",
        &[
            ("x-correlation-id", &fail_id),
            ("traceparent", &traceparent),
        ],
    )
    .await
    .unwrap();
    assert_eq!(failed.body, "declined");
    let _ = neighbour.await;
    assert!(obs.flush_errors(Duration::from_secs(5)));

    // Other tests of this binary report too: wait for these two requests' events.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut events = envelopes.events();
    while ![&panic_id, &fail_id].iter().all(|id| {
        events
            .iter()
            .any(|e| tag(e, "correlationId") == Some(id.as_str()))
    }) && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
        events = envelopes.events();
    }
    let panic_event = events
        .iter()
        .find(|e| tag(e, "correlationId") == Some(panic_id.as_str()))
        .unwrap_or_else(|| panic!("{wiring:?}: no panic event in {events:#?}"));
    assert_eq!(tag(panic_event, "service"), Some("payments"));
    assert_eq!(panic_event["user"]["id"], "u-17");
    assert_eq!(panic_event["user"]["companyId"], "company-9");
    assert_eq!(panic_event["request"]["method"], "GET");
    assert!(
        panic_event["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/panic/u-17")
    );
    let crumbs = breadcrumbs(panic_event);
    assert!(crumbs.iter().any(|m| m == "about to explode"), "{crumbs:?}");
    assert!(
        !crumbs.iter().any(|m| m.contains("chatty")),
        "a neighbour's breadcrumbs leaked: {crumbs:?}"
    );

    let error_event = events
        .iter()
        .find(|e| tag(e, "correlationId") == Some(fail_id.as_str()))
        .unwrap_or_else(|| panic!("{wiring:?}: no error event in {events:#?}"));
    assert_eq!(error_event["user"]["id"], "u-18");
    // An exception event: the chain outermost last, as Sentry orders it.
    let values = error_event["exception"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("{wiring:?}: not an exception event: {error_event:#}"));
    assert_eq!(values.len(), 2, "{wiring:?}: {values:#?}");
    assert_eq!(values[1]["type"], "PaymentError");
    assert_eq!(values[1]["module"], "error_tracking");
    assert_eq!(values[0]["value"], "gateway connection reset");
    let value = values[1]["value"].as_str().unwrap();
    assert!(value.starts_with("card declined for "), "{value}");
    assert!(
        !value.contains("hunter2") && !value.contains("@example.com"),
        "{value}"
    );
    // The capture site's stack: the calling function's frame (at its call of `charge`)
    // in-app, the frames of teei-obs and of the libraries under it not.
    let frames = values[1]["stacktrace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("{wiring:?}: no stack trace: {:#}", values[1]));
    let call_line = include_str!("error_tracking.rs")
        .lines()
        .position(|line| line.contains("match charge(&user).await"))
        .map(|index| index as u64 + 1);
    let caller = frames
        .iter()
        .find(|f| f["filename"] == "error_tracking.rs" && f["lineno"].as_u64() == call_line)
        .unwrap_or_else(|| panic!("{wiring:?}: no frame of the caller in {frames:#?}"));
    assert_eq!(caller["in_app"], true, "{caller:#}");
    for frame in frames {
        let function = frame["function"].as_str().unwrap_or_default();
        let path = frame["abs_path"].as_str().unwrap_or_default();
        if function.starts_with("teei_obs::")
            || function.starts_with("tokio::")
            || path.contains("/.cargo/registry/")
        {
            assert_eq!(frame["in_app"], false, "{frame:#}");
        }
    }
    // The trace of the span, the request's ID, the request's real URL, redacted.
    assert_eq!(error_event["contexts"]["trace"]["trace_id"], FAIL_TRACE);
    assert_eq!(tag(error_event, "trace_id"), Some(FAIL_TRACE));
    let url = error_event["request"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{addr}/fail/u-18?")),
        "{wiring:?}: {url}"
    );
    assert!(url.contains("page=2"), "{url}");
    assert!(!url.contains("jane.doe"), "{url}");
    assert!(
        breadcrumbs(error_event)
            .iter()
            .any(|m| m == "charging u-18")
    );
    assert!(
        !breadcrumbs(error_event)
            .iter()
            .any(|m| m.contains("explode") || m.contains("chatty"))
    );

    let raw = envelopes.raw();
    for secret in [
        "4111 1111 1111 1111",
        "u-18@example.com",
        "hunter2",
        "abcdefgh12345678",
    ] {
        assert!(!raw.contains(secret), "Sentry got {secret}: {raw}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_corpus_leaks_nothing_into_sentry_events() {
    use teei_obs_tests::corpus::{SECRET_KEYS, SECRET_VALUES};
    let (obs, envelopes) = setup().await;
    // One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
    for wiring in Wiring::BOTH {
        let context = teei_obs::trace::RequestContext::new_root();
        tracing::dispatcher::with_default(&wiring.dispatch(obs), || {
            context.in_scope(|| {
                for (what, secret) in SECRET_VALUES {
                    tracing::error!(
                        detail = *secret,
                        what = *what,
                        "value leak check {secret} ({wiring:?})"
                    );
                }
                for key in SECRET_KEYS {
                    let mut object = serde_json::Map::new();
                    object.insert((*key).to_owned(), serde_json::Value::from("s3cr3t-value"));
                    // Distinct messages: Sentry drops an event identical to the one before.
                    tracing::error!(
                        payload = %serde_json::Value::Object(object),
                        "key leak check {key} ({wiring:?})"
                    );
                }
            })
        });
    }
    assert!(obs.flush_errors(Duration::from_secs(5)));
    let expected = 2 * (SECRET_VALUES.len() + SECRET_KEYS.len());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while envelopes.raw().matches("leak check").count() < expected
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let raw = envelopes.raw();
    assert!(raw.matches("leak check").count() >= expected, "{raw}");
    for (what, secret) in SECRET_VALUES {
        assert!(!raw.contains(secret), "{what} leaked into Sentry");
    }
    assert!(
        !raw.contains("s3cr3t-value"),
        "a keyed secret leaked into Sentry"
    );
}

/// Waits for the event `find` picks among those received.
async fn event_where(
    envelopes: &Envelopes,
    find: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(event) = envelopes.events().into_iter().find(&find) {
            return event;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no such event in {:#?}",
            envelopes.events()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_error_reports_tags_user_and_extra_redacted_with_its_event_id() {
    use teei_obs::error_tracking::{Capture, Level, User};
    let (obs, envelopes) = setup().await;
    let error = PaymentError {
        user: "u-31".into(),
        source: std::io::Error::other("issuer unavailable"),
    };
    let id = Capture::error(&error)
        .tag("payment.provider", "acme")
        .user(
            User::id("u-31")
                .company_id("company-4")
                .role("buyer")
                .email("jane.doe@example.com"),
        )
        .extra("order", 7)
        .extra("password", "hunter2-extra")
        .extra("note", "retry later")
        .level(Level::Warning)
        .fingerprint(["payment", "declined"])
        .send()
        .expect("captured");
    assert!(obs.flush_errors(Duration::from_secs(5)));
    let event = event_where(envelopes, |e| {
        e["event_id"].as_str().map(|s| s.replace('-', "")) == Some(id.to_string())
    })
    .await;
    assert_eq!(tag(&event, "payment.provider"), Some("acme"));
    assert_eq!(event["level"], "warning");
    assert_eq!(
        event["fingerprint"],
        serde_json::json!(["payment", "declined"])
    );
    assert_eq!(event["user"]["id"], "u-31");
    assert_eq!(event["user"]["companyId"], "company-4");
    assert_eq!(event["user"]["role"], "buyer");
    assert!(
        !event["user"]["email"]
            .as_str()
            .unwrap()
            .contains("jane.doe"),
        "{}",
        event["user"]
    );
    assert_eq!(event["extra"]["order"], 7);
    assert_eq!(event["extra"]["note"], "retry later");
    assert_eq!(event["extra"]["password"], teei_obs::redact::REDACTED);
    let values = event["exception"]["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[1]["type"], "PaymentError");
    assert_eq!(values[0]["value"], "issuer unavailable");
    let frames = values[1]["stacktrace"]["frames"].as_array().unwrap();
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .is_some_and(|n| n.contains("capture_error_reports_tags_user_and_extra"))
            && f["in_app"] == true),
        "the calling test function among the in-app frames: {frames:#?}"
    );
    assert!(!envelopes.raw().contains("hunter2-extra"));
    assert!(!envelopes.raw().contains("jane.doe@example.com"));

    let message_id =
        teei_obs::error_tracking::capture_message("nightly settlement late", Level::Info)
            .expect("captured");
    assert!(obs.flush_errors(Duration::from_secs(5)));
    let message = event_where(envelopes, |e| {
        e["event_id"].as_str().map(|s| s.replace('-', "")) == Some(message_id.to_string())
    })
    .await;
    assert_eq!(message["level"], "info");
    assert_eq!(message["message"], "nightly settlement late");
}

/// A message consumer: the handler logs, then fails; its own hub carries the message's IDs
/// and only its breadcrumb, on both wirings.
#[test]
fn a_consumer_error_carries_the_message_ids_and_only_its_own_breadcrumb() {
    let (obs, _) = tokio::runtime::Runtime::new().unwrap().block_on(setup());
    for wiring in Wiring::BOTH {
        wiring.run(obs, consume_one(wiring));
    }
}

async fn consume_one(wiring: Wiring) {
    use teei_obs::trace::{MessageHeaders, RequestContext};
    let (obs, envelopes) = setup().await;
    // The ID on the first wiring; the second's must differ to be told apart.
    let correlation = match wiring {
        Wiring::Fast => "msg-1".to_owned(),
        Wiring::Composed => "msg-1-composed".to_owned(),
    };
    // Breadcrumbs from outside any message: the consumer's event must not carry them.
    tracing::info!("consumer loop started ({wiring:?})");
    let mut headers = MessageHeaders::default();
    headers.insert("x-correlation-id", correlation.as_str());
    headers.insert("x-causation-id", "cause-9");
    let handled: Result<(), PaymentError> = RequestContext::extract(&headers)
        .for_message("orders.created", "OrderCreated")
        .scope(async {
            tracing::info!("handling order 7");
            tokio::task::yield_now().await;
            let error = PaymentError {
                user: "u-40".into(),
                source: std::io::Error::other("ledger down"),
            };
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "order handling failed"
            );
            Err(error)
        })
        .await;
    assert!(handled.is_err());
    tracing::info!("after the message ({wiring:?})");
    assert!(obs.flush_errors(Duration::from_secs(5)));
    let event = event_where(envelopes, |e| {
        tag(e, "correlationId") == Some(correlation.as_str())
    })
    .await;
    assert_eq!(tag(&event, "causationId"), Some("cause-9"));
    assert_eq!(tag(&event, "messaging.destination"), Some("orders.created"));
    assert_eq!(tag(&event, "eventType"), Some("OrderCreated"));
    assert_eq!(tag(&event, "service"), Some("payments"));
    assert_eq!(breadcrumbs(&event), ["handling order 7"], "{wiring:?}");
    let values = event["exception"]["values"].as_array().unwrap();
    assert_eq!(values.len(), 2, "{wiring:?}");
    assert_eq!(
        values[1]["value"]
            .as_str()
            .map(|v| v.starts_with("card declined")),
        Some(true)
    );
    assert_eq!(event["message"], "order handling failed");
}
