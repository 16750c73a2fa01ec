//! The W3C Trace Context processing model (Level 2 where it differs), case by case: what a
//! service propagates downstream after a request with repeated, empty, oversized or
//! invalid `traceparent` / `tracestate` fields — over real HTTP, and the same cases through
//! message headers.

use std::sync::OnceLock;

use axum::routing::get;
use teei_obs::config::TraceExport;
use teei_obs::trace::{self, MessageHeaders, RequestContext, Sampler};
use teei_obs::traced;
use teei_obs_tests::{request_with_headers, serve};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn obs() -> &'static teei_obs::Obs {
    static OBS: OnceLock<teei_obs::Obs> = OnceLock::new();
    OBS.get_or_init(|| {
        teei_obs::init(
            teei_obs::Config::new("trace-context")
                .sampler(Sampler::AlwaysOn)
                .trace_export(TraceExport::None),
        )
        .expect("init")
    })
}

/// What the service would send to the next hop: its outgoing `traceparent`/`tracestate`.
#[traced]
async fn downstream() -> String {
    let mut headers = axum::http::HeaderMap::new();
    trace::inject_http(&mut headers);
    let get = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("<not text>"))
            .map(|v| if v.is_empty() { "<empty>" } else { v })
            .unwrap_or("")
            .to_owned()
    };
    // Absent is "", an empty field "<empty>": an empty `tracestate` must not be sent.
    format!("{}\n{}", get("traceparent"), get("tracestate"))
}

/// One request's headers and what must come out.
struct Case {
    what: &'static str,
    traceparent: Vec<String>,
    tracestate: Vec<String>,
    /// Whether the trace is continued (else a new trace starts).
    continues: bool,
    /// The `tracestate` sent onward (`None`: none at all).
    onward: Option<String>,
}

fn valid() -> String {
    format!("00-{TRACE}-{PARENT}-01")
}

fn members(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| format!("k{i}=v{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn cases() -> Vec<Case> {
    let key256 = format!("a{}", "b".repeat(255));
    let key257 = format!("a{}", "b".repeat(256));
    let tenant241 = format!("t{}", "1".repeat(240));
    let case =
        |what, traceparent: &[String], tracestate: &[&str], continues, onward: Option<&str>| Case {
            what,
            traceparent: traceparent.to_vec(),
            tracestate: tracestate.iter().map(|s| (*s).to_owned()).collect(),
            continues,
            onward: onward.map(str::to_owned),
        };
    let v = [valid()];
    vec![
        case(
            "one field each",
            &v,
            &["congo=t61rcWkgMzE"],
            true,
            Some("congo=t61rcWkgMzE"),
        ),
        case("no tracestate", &v, &[], true, None),
        case(
            "repeated traceparent makes the header invalid",
            &[valid(), valid()],
            &["congo=t61rcWkgMzE"],
            false,
            None,
        ),
        case(
            "repeated, different traceparent",
            &[valid(), format!("00-{}-{PARENT}-01", "1".repeat(32))],
            &[],
            false,
            None,
        ),
        case(
            "an empty traceparent field is ignored",
            &[String::new(), valid()],
            &["a=1"],
            true,
            Some("a=1"),
        ),
        case(
            "repeated tracestate fields are combined in order",
            &v,
            &["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"],
            true,
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ),
        case(
            "empty fields and empty list members are ignored",
            &v,
            &["", "a=1, ,,\t", "b=2"],
            true,
            Some("a=1,b=2"),
        ),
        case(
            "32 members are kept",
            &v,
            &[&members(0..32)],
            true,
            Some(&members(0..32)),
        ),
        case(
            "33 members discard it whole",
            &v,
            &[&members(0..33)],
            true,
            None,
        ),
        case(
            "33 members across two fields discard it whole",
            &v,
            &[&members(0..16), &members(16..33)],
            true,
            None,
        ),
        case(
            "a 256-character key is kept",
            &v,
            &[&format!("{key256}=x")],
            true,
            Some(&format!("{key256}=x")),
        ),
        case(
            "a 257-character key discards it",
            &v,
            &[&format!("{key257}=x,a=1")],
            true,
            None,
        ),
        case(
            "multi-tenant keys are kept",
            &v,
            &["fw529a3039@dt=00f067aa0ba902b7,rojo@congo-1_/*=x"],
            true,
            Some("fw529a3039@dt=00f067aa0ba902b7,rojo@congo-1_/*=x"),
        ),
        case(
            "a 241-character tenant with a 14-character system is kept",
            &v,
            &[&format!("{tenant241}@s1234567890123=x")],
            true,
            Some(&format!("{tenant241}@s1234567890123=x")),
        ),
        case(
            "a 15-character system discards it",
            &v,
            &["a=1,t@s12345678901234=x"],
            true,
            None,
        ),
        case(
            "an empty tenant discards it",
            &v,
            &["@vendor=x"],
            true,
            None,
        ),
        case("two @ discard it", &v, &["a@b@c=x"], true, None),
        case(
            "a system starting with a digit discards it",
            &v,
            &["t@1v=x"],
            true,
            None,
        ),
        case(
            "an upper-case key discards it",
            &v,
            &["a=1,Congo=x"],
            true,
            None,
        ),
        case(
            "a key starting with a digit discards it",
            &v,
            &["1abc=x"],
            true,
            None,
        ),
        case("a member without = discards it", &v, &["a=1,b"], true, None),
        case("a value with = discards it", &v, &["a=b=c"], true, None),
        case("an empty value discards it", &v, &["a="], true, None),
        case(
            "a repeated key discards it",
            &v,
            &["a=1,b=2,a=3"],
            true,
            None,
        ),
        case(
            "a 257-character value discards it",
            &v,
            &[&format!("a={}", "x".repeat(257))],
            true,
            None,
        ),
        case(
            "a 256-character value is kept",
            &v,
            &[&format!("a={}", "x".repeat(256))],
            true,
            Some(&format!("a={}", "x".repeat(256))),
        ),
        case(
            "a value outside printable ASCII discards it",
            &v,
            &["a=1,b=x\u{e9}y"],
            true,
            None,
        ),
        case(
            "an invalid traceparent drops tracestate too",
            &[format!("00-{TRACE}-{PARENT}-0x")],
            &["a=1"],
            false,
            None,
        ),
    ]
}

/// Checks what went onward against `case`.
fn check(case: &Case, onward: &str) {
    let (traceparent, tracestate) = onward.split_once('\n').expect("two lines");
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(fields.len(), 4, "{}: {traceparent:?}", case.what);
    assert_eq!(
        fields[1] == TRACE,
        case.continues,
        "{}: sent {traceparent}",
        case.what
    );
    assert_ne!(
        fields[2], PARENT,
        "{}: a span of its own is the parent",
        case.what
    );
    assert_eq!(
        (!tracestate.is_empty()).then_some(tracestate),
        case.onward.as_deref(),
        "{}",
        case.what
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_each_case_propagates_what_the_specification_says() {
    let service = serve(
        axum::Router::new()
            .route("/next", get(downstream))
            .layer(obs().request_layer()),
    )
    .await;
    let cases = cases();
    assert!(cases.len() >= 25);
    for case in &cases {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        headers.extend(case.traceparent.iter().map(|v| ("traceparent", v.as_str())));
        headers.extend(case.tracestate.iter().map(|v| ("tracestate", v.as_str())));
        let response = request_with_headers(service, "GET", "/next", &headers)
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{}", case.what);
        check(case, &response.body);
    }
}

#[test]
fn through_message_headers_each_case_propagates_the_same() {
    let obs = obs();
    for case in &cases() {
        let mut headers = MessageHeaders::default();
        for value in &case.traceparent {
            headers.insert("traceparent", value.clone());
        }
        for value in &case.tracestate {
            headers.insert("tracestate", value.clone());
        }
        let onward = tracing::subscriber::with_default(obs.subscriber(), || {
            RequestContext::extract(&headers).in_scope(|| {
                let span = tracing::info_span!("consume");
                let _entered = span.enter();
                let mut out = MessageHeaders::default();
                trace::inject(&mut out);
                format!(
                    "{}\n{}",
                    out.get("traceparent").unwrap_or(""),
                    out.get("tracestate")
                        .map(|v| if v.is_empty() { "<empty>" } else { v })
                        .unwrap_or("")
                )
            })
        });
        check(case, &onward);
    }
}
