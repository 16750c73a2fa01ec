//! Properties of the propagation edge over generated input: whatever a caller or a
//! message's publisher puts in `traceparent`, `tracestate`, `baggage`, `b3`,
//! `x-correlation-id` and `x-causation-id` — arbitrary Unicode, control characters,
//! percent-escapes of CR/LF, near-valid IDs, repeated fields — extraction never panics,
//! a trace is continued exactly when the W3C grammar accepts its one `traceparent`, and
//! every header sent onward is well-formed visible ASCII within the W3C limits, so hostile
//! input can neither break the next hop's headers nor smuggle one in.
//!
//! The hand-picked cases are in `propagation.rs` and `trace_context.rs`; this file covers
//! the space between them.

use std::sync::OnceLock;

use proptest::prelude::*;
use teei_obs::config::{Propagator, TraceExport};
use teei_obs::trace::{self, MessageHeaders, RequestContext, Sampler};

fn obs() -> &'static teei_obs::Obs {
    static OBS: OnceLock<teei_obs::Obs> = OnceLock::new();
    OBS.get_or_init(|| {
        teei_obs::init(
            teei_obs::Config::new("header-properties")
                .sampler(Sampler::AlwaysOn)
                .propagators([
                    Propagator::TraceContext,
                    Propagator::Baggage,
                    Propagator::B3,
                    Propagator::B3Multi,
                ])
                .trace_export(TraceExport::None),
        )
        .expect("init")
    })
}

/// What a service sends onward from inside a span of its own, in `context`.
#[teei_obs::traced]
fn onward() -> MessageHeaders {
    let mut headers = MessageHeaders::default();
    trace::inject(&mut headers);
    headers
}

/// Lower-case hex IDs, with now and then a wrong length, an upper-case or non-hex
/// character, or all zeros.
fn id(len: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(prop_oneof![Just('0'), Just('a'), Just('f'), Just('7')], len)
            .prop_map(|c| c.into_iter().collect()),
        1 => Just("0".repeat(len)),
        1 => "[0-9a-fA-Fg]{0,40}",
    ]
}

/// `traceparent` values: mostly near the grammar, some anything at all.
fn traceparent() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (
            prop_oneof![Just("00".to_owned()), Just("01".to_owned()), Just("ff".to_owned()), "[0-9a-g]{1,3}"],
            id(32),
            id(16),
            prop_oneof![Just("01".to_owned()), Just("00".to_owned()), "[0-9a-gA-G]{1,3}"],
            prop_oneof![Just(String::new()), Just("-".to_owned()), "-[ -~]{0,8}"],
            prop_oneof![Just("-"), Just("_"), Just("--")],
        )
            .prop_map(|(v, t, p, f, tail, sep)| format!("{v}{sep}{t}{sep}{p}{sep}{f}{tail}")),
        1 => any::<String>(),
    ]
}

/// `tracestate` values: lists of members near the grammar, with bad characters, repeated
/// keys or too many members now and then.
fn tracestate() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        4 => ("[a-z][a-z0-9_*/-]{0,8}(@[a-z][a-z0-9]{0,4})?", "[!-+--<>-~]{1,12}")
            .prop_map(|(k, v)| format!("{k}={v}")),
        1 => "[ -~]{0,16}",
        1 => any::<String>(),
    ];
    prop_oneof![
        4 => proptest::collection::vec(member, 0..40).prop_map(|m| m.join(",")),
        1 => any::<String>(),
    ]
}

/// `baggage` values: `key=value;property` lists, with percent-escapes (CR, LF, NUL,
/// multi-byte UTF-8, broken ones) in values.
fn baggage() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[A-Za-z0-9]{0,10}",
        Just("%0D%0ASet-Cookie:%20x=1".to_owned()),
        Just("%00".to_owned()),
        Just("%E2%82%AC".to_owned()),
        Just("%E2%82".to_owned()),
        Just("%zz".to_owned()),
        any::<String>(),
    ];
    let entry = (
        "[A-Za-z0-9!#$&'*+.^_`|~-]{0,8}",
        value,
        "(;[a-z]{1,4}(=[a-z]{1,4})?)?",
    )
        .prop_map(|(k, v, p)| format!("{k}={v}{p}"));
    prop_oneof![
        4 => proptest::collection::vec(entry, 0..12).prop_map(|e| e.join(",")),
        1 => any::<String>(),
    ]
}

/// Correlation and causation IDs: valid ones, near-valid ones, anything.
fn correlation() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9._:-]{1,128}",
        1 => "[A-Za-z0-9._:-]{129,140}",
        1 => "[ -~]{0,20}",
        1 => any::<String>(),
    ]
}

/// B3 single-header values, near the format or anything.
fn b3() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (id(32), id(16), prop_oneof![Just(""), Just("-1"), Just("-0"), Just("-d"), Just("-x")])
            .prop_map(|(t, s, rest)| format!("{t}-{s}{rest}")),
        1 => any::<String>(),
    ]
}

/// One message's headers: each field absent, once or (for some) twice.
fn headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    (
        proptest::collection::vec(traceparent(), 0..=2),
        proptest::collection::vec(tracestate(), 0..=2),
        proptest::option::of(baggage()),
        proptest::option::of(correlation()),
        proptest::option::of(correlation()),
        proptest::option::of(b3()),
        proptest::option::of((id(32), id(16))),
    )
        .prop_map(
            |(parents, states, baggage, correlation, causation, b3, multi)| {
                let mut headers = Vec::new();
                headers.extend(parents.into_iter().map(|v| ("traceparent", v)));
                headers.extend(states.into_iter().map(|v| ("tracestate", v)));
                headers.extend(baggage.map(|v| ("baggage", v)));
                headers.extend(correlation.map(|v| ("x-correlation-id", v)));
                headers.extend(causation.map(|v| ("x-causation-id", v)));
                headers.extend(b3.map(|v| ("b3", v)));
                if let Some((trace_id, span_id)) = multi {
                    headers.push(("x-b3-traceid", trace_id));
                    headers.push(("x-b3-spanid", span_id));
                }
                headers
            },
        )
}

/// The trace ID of the one acceptable `traceparent` among `headers`, if there is exactly
/// one non-empty field and the grammar accepts it.
fn accepted_parent(headers: &[(&str, String)]) -> Option<String> {
    let fields: Vec<&str> = headers
        .iter()
        .filter(|(name, _)| *name == "traceparent")
        .map(|(_, value)| value.trim_matches([' ', '\t']))
        .filter(|value| !value.is_empty())
        .collect();
    match fields[..] {
        [one] if trace::is_valid_traceparent(one) => Some(one[3..35].to_owned()),
        _ => None,
    }
}

fn visible_ascii(value: &str) -> bool {
    value.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn check(input: &[(&'static str, String)]) -> Result<(), TestCaseError> {
    let mut carrier = MessageHeaders::default();
    for (name, value) in input {
        carrier.insert(*name, value.clone());
    }
    let context = RequestContext::extract(&carrier);
    let expected_parent = accepted_parent(input);
    if let Some(trace_id) = &expected_parent {
        prop_assert_eq!(context.trace_id(), Some(trace_id.clone()));
    }
    let sent = context.clone().in_scope(onward);

    for (name, value) in sent.iter() {
        prop_assert!(
            visible_ascii(value),
            "{} sent onward with a byte outside visible ASCII: {:?}",
            name,
            value
        );
    }
    let traceparent = sent.get("traceparent").expect("always sent from a span");
    prop_assert!(trace::is_valid_traceparent(traceparent), "{}", traceparent);
    prop_assert_eq!(traceparent.len(), 55, "{}", traceparent);
    if let Some(trace_id) = &expected_parent {
        prop_assert_eq!(
            &traceparent[3..35],
            trace_id.as_str(),
            "the trace continues"
        );
    }
    if let Some(state) = sent.get("tracestate") {
        prop_assert!(
            context.trace_id().is_some(),
            "tracestate without a remote parent"
        );
        let members: Vec<&str> = state.split(',').collect();
        prop_assert!(members.len() <= 32, "{} members", members.len());
        for member in members {
            let (key, value) = member.split_once('=').expect("key=value");
            prop_assert!(trace::is_valid_tracestate_key(key), "{:?}", key);
            prop_assert!(trace::is_valid_tracestate_value(value), "{:?}", value);
        }
    }
    if let Some(baggage) = sent.get("baggage") {
        prop_assert!(baggage.len() <= 8192, "{} bytes of baggage", baggage.len());
    }

    let correlation_in = input
        .iter()
        .find(|(name, _)| *name == "x-correlation-id")
        .map(|(_, value)| value.as_str());
    let correlation_out = sent.get("x-correlation-id").expect("always sent");
    prop_assert!(trace::is_valid_id(correlation_out), "{:?}", correlation_out);
    match correlation_in {
        Some(id) if trace::is_valid_id(id) => prop_assert_eq!(correlation_out, id),
        _ => prop_assert_eq!(correlation_out.len(), 36, "a generated UUID"),
    }
    if let Some(causation) = sent.get("x-causation-id") {
        prop_assert!(trace::is_valid_id(causation), "{:?}", causation);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_inbound_headers_give_well_formed_onward_headers(input in headers()) {
        obs();
        check(&input)?;
    }

    #[test]
    fn any_http_header_bytes_are_read_without_panic(
        values in proptest::collection::vec(
            (
                prop_oneof![
                    Just("traceparent"), Just("tracestate"), Just("baggage"),
                    Just("x-correlation-id"), Just("b3"), Just("x-b3-traceid"),
                ],
                proptest::collection::vec(any::<u8>(), 0..80),
            ),
            0..8,
        )
    ) {
        obs();
        let mut headers = axum::http::HeaderMap::new();
        for (name, bytes) in &values {
            // What an HTTP server lets through: no CR, LF or NUL, other bytes as they come
            // (obs-text above 0x7f included).
            if let Ok(value) = axum::http::HeaderValue::from_bytes(bytes) {
                headers.append(*name, value);
            }
        }
        let context = trace::extract_http(&headers);
        prop_assert!(trace::is_valid_id(context.correlation_id()));
        let sent = context.in_scope(onward);
        for (name, value) in sent.iter() {
            prop_assert!(visible_ascii(value), "{}: {:?}", name, value);
        }
    }
}
