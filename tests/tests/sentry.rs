//! Errors and panics reach a local endpoint used as the Sentry DSN (the real transport
//! runs), with tags, user, request and the request's own breadcrumbs only — redacted.

use std::time::Duration;

use axum::routing::get;
use teei_obs::log::LogFormat;
use teei_obs::trace::Sampler;
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
    let (dsn, envelopes) = sentry_endpoint::start();
    let obs = teei_obs::init(
        teei_obs::Config::new("payments")
            .sampler(Sampler::AlwaysOn)
            .capture_logs(true)
            .log_format(LogFormat::Json)
            .sentry_dsn(&dsn)
            .unwrap(),
    )
    .unwrap();
    (obs, envelopes)
}

#[traced(err)]
async fn charge(user: &str) -> Result<(), String> {
    tracing::info!(step = "authorised", "charging {user}");
    Err(format!(
        "card declined for {user}@example.com, password=hunter2"
    ))
}

async fn panicking(axum::extract::Path(user): axum::extract::Path<String>) -> &'static str {
    teei_obs::errors::set_user(&user, Some("company-9"), Some("admin"));
    tracing::info!("about to explode");
    tokio::task::yield_now().await;
    panic!("handler exploded on card 4111 1111 1111 1111");
}

async fn failing(axum::extract::Path(user): axum::extract::Path<String>) -> String {
    teei_obs::errors::set_user(&user, None, None);
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
        .layer(obs.layer());
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
    let failed = request_with_headers(addr, "GET", "/fail/u-18", &[("x-correlation-id", &fail_id)])
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
    assert!(tag(error_event, "trace_id").is_some_and(|t| t.len() == 32));
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
