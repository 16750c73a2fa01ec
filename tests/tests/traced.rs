//! `#[traced]` on every function shape, seen through the embedded in-memory span export.

use std::sync::OnceLock;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Key, Value};
use teei_obs::trace::{Sampler, SpanData};
use teei_obs::{counted, traced};

fn obs() -> &'static teei_obs::Obs {
    static OBS: OnceLock<teei_obs::Obs> = OnceLock::new();
    OBS.get_or_init(|| {
        teei_obs::init(
            teei_obs::Config::new("traced-test")
                .sampler(Sampler::AlwaysOn)
                .log_filter("trace")
                .traces_filter("trace")
                .trace_export(teei_obs::config::TraceExport::Memory),
        )
        .expect("init")
    })
}

fn spans_named(name: &str) -> Vec<SpanData> {
    obs()
        .recent_spans()
        .into_iter()
        .filter(|span| span.name == name)
        .collect()
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| kv.value.clone())
}

#[derive(Debug)]
struct NotFound(u32);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} not found", self.0)
    }
}

#[traced(kind = "server", err, fields(order.id = id))]
fn load_order(id: u32, secret_token: &str) -> Result<u32, NotFound> {
    let _ = secret_token;
    if id == 0 {
        return Err(NotFound(id));
    }
    let total = price(id)?;
    Ok(total)
}

#[traced(name = "pricing", level = "debug", ret)]
fn price(id: u32) -> Result<u32, NotFound> {
    Ok(id * 10)
}

/// One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
#[test]
fn spans_have_names_kinds_parents_attributes_status_and_events() {
    for wiring in teei_obs_tests::Wiring::BOTH {
        let before = obs().recent_spans().len();
        tracing::dispatcher::with_default(&wiring.dispatch(obs()), || {
            assert_eq!(load_order(7, "hunter2").unwrap(), 70);
            load_order(0, "hunter2").unwrap_err();
        });
        check_spans(wiring, before);
    }
}

/// The spans finished since `before` (the sink holds far fewer than its 1,024 here, so
/// nothing was evicted); other tests of this binary use other names.
fn check_spans(wiring: teei_obs_tests::Wiring, before: usize) {
    let recent = obs().recent_spans();
    let new = &recent[before.min(recent.len())..];
    let spans_named =
        |name: &str| -> Vec<SpanData> { new.iter().filter(|s| s.name == name).cloned().collect() };
    let orders = spans_named("load_order");
    assert_eq!(orders.len(), 2, "{wiring:?}");
    assert_eq!(orders.len(), 2);
    let ok = orders
        .iter()
        .find(|s| attribute(s, "order.id") == Some(Value::I64(7)))
        .unwrap();
    let failed = orders
        .iter()
        .find(|s| attribute(s, "order.id") == Some(Value::I64(0)))
        .unwrap();
    assert_eq!(ok.span_kind, SpanKind::Server);
    assert_eq!(ok.status, Status::Unset);
    assert_eq!(failed.status, Status::error("order 0 not found"));
    let exception = failed
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("error event");
    assert!(
        exception
            .attributes
            .iter()
            .any(|kv| kv.value.as_str() == "order 0 not found")
    );

    // Arguments are not recorded unless listed: the token never reaches a span.
    for span in &orders {
        assert!(
            span.attributes
                .iter()
                .all(|kv| !kv.value.as_str().contains("hunter2")),
            "{span:?}"
        );
    }

    let pricing = spans_named("pricing");
    assert_eq!(pricing.len(), 1);
    assert_eq!(pricing[0].parent_span_id, ok.span_context.span_id());
    assert_eq!(
        pricing[0].span_context.trace_id(),
        ok.span_context.trace_id()
    );
    assert_eq!(pricing[0].span_kind, SpanKind::Internal);
    let returned = pricing[0]
        .events
        .iter()
        .find(|e| e.name == "return")
        .expect("ret event");
    assert!(
        returned
            .attributes
            .iter()
            .any(|kv| kv.value.as_str() == "Ok(70)")
    );
    assert_ne!(
        ok.span_context.trace_id(),
        failed.span_context.trace_id(),
        "two roots, two traces"
    );
}

// --- async, methods, generics, combined with #[counted] in both orders ------------------

struct Repo;

impl Repo {
    #[traced(kind = "client", skip(self), fields(table = "orders"))]
    async fn fetch(&self, id: u32) -> Result<u32, NotFound> {
        tokio::task::yield_now().await;
        if id > 100 { Err(NotFound(id)) } else { Ok(id) }
    }
}

#[traced(kind = "producer")]
async fn publish<T: std::fmt::Debug + Send>(items: Vec<T>) -> usize {
    tokio::task::yield_now().await;
    items.len()
}

#[traced]
#[counted]
async fn traced_then_counted(fail: bool) -> Result<(), String> {
    if fail { Err("no".into()) } else { Ok(()) }
}

#[counted]
#[traced]
fn counted_then_traced(fail: bool) -> Result<(), String> {
    if fail { Err("no".into()) } else { Ok(()) }
}

#[traced(name = "handle")]
async fn handle() -> Result<usize, NotFound> {
    let id = Repo.fetch(5).await?;
    let sent = publish(vec![id, id]).await;
    Ok(sent)
}

fn calls(name: &str) -> [u64; 2] {
    let metrics = teei_obs::registry::functions()
        .find(|entry| entry.name() == name && entry.metrics().is_some())
        .and_then(|entry| entry.metrics())
        .unwrap();
    [
        metrics.calls(teei_obs::metrics::Outcome::Ok),
        metrics.calls(teei_obs::metrics::Outcome::Error),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_spans_nest_across_awaits_and_combine_with_counted_in_either_order() {
    obs();
    assert_eq!(handle().await.unwrap(), 2);
    let root = &spans_named("handle")[0];
    let fetch = &spans_named("fetch")[0];
    let publish = &spans_named("publish")[0];
    assert_eq!(fetch.parent_span_id, root.span_context.span_id());
    assert_eq!(publish.parent_span_id, root.span_context.span_id());
    assert_eq!(fetch.span_kind, SpanKind::Client);
    assert_eq!(publish.span_kind, SpanKind::Producer);
    assert_eq!(attribute(fetch, "table"), Some(Value::from("orders")));

    traced_then_counted(false).await.unwrap();
    traced_then_counted(true).await.unwrap_err();
    counted_then_traced(false).unwrap();
    counted_then_traced(true).unwrap_err();
    assert_eq!(spans_named("traced_then_counted").len(), 2);
    assert_eq!(spans_named("counted_then_traced").len(), 2);
    assert_eq!(calls("traced_then_counted"), [1, 1]);
    assert_eq!(calls("counted_then_traced"), [1, 1]);
}

#[traced]
fn explode() {
    panic!("traced panic");
}

#[test]
fn a_panicking_function_still_closes_its_span() {
    let capture = teei_obs::testing::capture();
    assert!(std::panic::catch_unwind(explode).is_err());
    assert_eq!(capture.span("explode").name(), "explode");
}

#[test]
fn traced_functions_are_in_the_registry_with_their_declaration() {
    let entry = teei_obs::registry::functions()
        .find(|entry| entry.name() == "price")
        .expect("registered");
    let info = entry.traced().expect("traced");
    assert_eq!(info.span_name(), "pricing");
    assert_eq!(info.level(), tracing::Level::DEBUG);
    assert_eq!(info.kind(), "internal");
}
