//! Carrying a trace and its correlation IDs across process boundaries: W3C Trace Context
//! (the whole processing model), Baggage and B3 through the OpenTelemetry propagators,
//! and `x-correlation-id` / `x-causation-id` checked before they are trusted; the
//! carriers for HTTP headers and message headers.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, LazyLock};

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use super::context::{
    CAUSATION_HEADER, CORRELATION_HEADER, RequestContext, TraceParent, current, is_valid_id,
};
use super::headers::ScannedHeaders;
pub(crate) use super::headers::correlation_header;
pub use super::headers::{HeaderCarrier, HeaderReader};
use super::ids::generate_shared_id;

static TRACE_CONTEXT: LazyLock<TraceContextPropagator> = LazyLock::new(TraceContextPropagator::new);
static BAGGAGE: LazyLock<BaggagePropagator> = LazyLock::new(BaggagePropagator::new);
static B3_SINGLE: LazyLock<opentelemetry_propagator_b3::Propagator> = LazyLock::new(|| {
    opentelemetry_propagator_b3::Propagator::with_encoding(
        opentelemetry_propagator_b3::B3Encoding::SingleHeader,
    )
});
static B3_MULTI: LazyLock<opentelemetry_propagator_b3::Propagator> = LazyLock::new(|| {
    opentelemetry_propagator_b3::Propagator::with_encoding(
        opentelemetry_propagator_b3::B3Encoding::MultipleHeader,
    )
});
static B3_ANY: LazyLock<opentelemetry_propagator_b3::Propagator> = LazyLock::new(|| {
    opentelemetry_propagator_b3::Propagator::with_encoding(
        opentelemetry_propagator_b3::B3Encoding::SingleAndMultiHeader,
    )
});

const W3C: u8 = 1;
const BAGGAGE_BIT: u8 = 2;
const B3_BIT: u8 = 4;
const B3_MULTI_BIT: u8 = 8;

/// The propagation formats in force, as bits; set by `init` from `OTEL_PROPAGATORS`.
static FORMATS: AtomicU8 = AtomicU8::new(W3C | BAGGAGE_BIT);

/// Makes `propagators` the formats [`RequestContext::extract`] reads and [`inject`] writes,
/// and installs the same set as OpenTelemetry's global propagator, so third-party
/// instrumentation that asks `opentelemetry::global` propagates the same headers.
pub(crate) fn install_propagators(propagators: &[crate::config::Propagator]) {
    use crate::config::Propagator;
    let mut bits = 0;
    let mut global: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    for propagator in propagators {
        match propagator {
            Propagator::TraceContext => {
                bits |= W3C;
                global.push(Box::new(TraceContextPropagator::new()));
            }
            Propagator::Baggage => {
                bits |= BAGGAGE_BIT;
                global.push(Box::new(BaggagePropagator::new()));
            }
            Propagator::B3 => {
                bits |= B3_BIT;
                global.push(Box::new(B3_SINGLE.clone()));
            }
            Propagator::B3Multi => {
                bits |= B3_MULTI_BIT;
                global.push(Box::new(B3_MULTI.clone()));
            }
        }
    }
    FORMATS.store(bits, Ordering::Relaxed);
    opentelemetry::global::set_text_map_propagator(BridgePropagator(
        opentelemetry::propagation::TextMapCompositePropagator::new(global),
    ));
}

impl RequestContext {
    /// Reads `traceparent`, `tracestate`, `baggage`, `x-correlation-id` and
    /// `x-causation-id` from `carrier`.
    ///
    /// Never fails: an invalid `traceparent` (as the W3C specification defines it) means no
    /// remote parent, so the next span starts a new trace; a missing or unacceptable
    /// correlation ID is replaced by a generated one; an unacceptable causation ID is
    /// dropped.
    pub fn extract(carrier: &dyn Extractor) -> Self {
        let formats = FORMATS.load(Ordering::Relaxed);
        let mut parent = None;
        if formats & W3C != 0 {
            parent = w3c_parent(carrier);
        }
        if parent.is_none() && formats & (B3_BIT | B3_MULTI_BIT) != 0 {
            parent = b3_parent(carrier);
        }
        // Most requests carry no baggage: do not build a context to find that out.
        let baggage = (formats & BAGGAGE_BIT != 0 && carrier.get("baggage").is_some())
            .then(|| {
                BAGGAGE
                    .extract(carrier)
                    .baggage()
                    .iter()
                    .map(|(key, (value, _))| (key.to_string(), value.to_string()))
                    .collect::<Arc<[(String, String)]>>()
            })
            .filter(|baggage| !baggage.is_empty());
        let correlation_id = carrier
            .get(CORRELATION_HEADER)
            .filter(|id| is_valid_id(id))
            .map_or_else(generate_shared_id, Arc::from);
        let causation_id = carrier
            .get(CAUSATION_HEADER)
            .filter(|id| is_valid_id(id))
            .map(Arc::from);
        RequestContext {
            parent,
            correlation_id,
            causation_id,
            baggage,
            message: None,
            server: None,
        }
    }
}

/// The most list members a `tracestate` may have; with more, it is discarded whole.
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// The non-empty fields of header `name`, each trimmed of optional white space.
fn fields<'a>(carrier: &'a dyn Extractor, name: &str) -> Vec<&'a str> {
    carrier
        .get_all(name)
        .unwrap_or_default()
        .into_iter()
        .map(|field| field.trim_matches([' ', '\t']))
        .filter(|field| !field.is_empty())
        .collect()
}

/// The remote parent of a W3C Trace Context (Level 2 processing model): exactly one
/// non-empty `traceparent` field that passes the strict grammar, and its `tracestate`.
fn w3c_parent(carrier: &dyn Extractor) -> Option<TraceParent> {
    let [traceparent] = fields(carrier, "traceparent")[..] else {
        return None; // absent, or repeated: invalid, a new trace starts
    };
    if !is_valid_traceparent(traceparent) {
        return None;
    }
    let trace_id = u128::from_str_radix(&traceparent[3..35], 16).ok()?;
    let span_id = u64::from_str_radix(&traceparent[36..52], 16).ok()?;
    let flags = u8::from_str_radix(&traceparent[53..55], 16).ok()?;
    Some(TraceParent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
        trace_state: trace_state(&fields(carrier, "tracestate")),
    })
}

/// The `tracestate` that `fields` make once combined as HTTP combines repeated fields
/// (RFC 9110: joined with commas), or `None` when it is empty, has more than 32 list
/// members, repeats a key, or holds any member that breaks the grammar.
fn trace_state(fields: &[&str]) -> Option<Arc<str>> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for member in fields
        .iter()
        .flat_map(|field| field.split(','))
        .map(|member| member.trim_matches([' ', '\t']))
        .filter(|member| !member.is_empty())
    {
        let (key, value) = member.split_once('=')?;
        if !is_valid_tracestate_key(key)
            || !is_valid_tracestate_value(value)
            || members.iter().any(|(k, _)| *k == key)
        {
            return None;
        }
        members.push((key, value));
        if members.len() > MAX_TRACESTATE_MEMBERS {
            return None;
        }
    }
    if members.is_empty() {
        return None;
    }
    let mut header = String::new();
    for (key, value) in members {
        if !header.is_empty() {
            header.push(',');
        }
        header.push_str(key);
        header.push('=');
        header.push_str(value);
    }
    Some(header.into())
}

/// A `tracestate` key: `simple-key` (a lower-case letter, then up to 255 of `a-z0-9_-*/`)
/// or `tenant@system` (tenant: a letter or digit and up to 240 more, system: a letter and up
/// to 13 more).
pub fn is_valid_tracestate_key(key: &str) -> bool {
    fn rest(part: &str, max: usize) -> bool {
        part.len() <= max
            && part.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'*' | b'/')
            })
    }
    match key.split_once('@') {
        None => key.as_bytes().first().is_some_and(u8::is_ascii_lowercase) && rest(&key[1..], 255),
        Some((tenant, system)) => {
            tenant
                .as_bytes()
                .first()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && rest(&tenant[1..], 240)
                && system
                    .as_bytes()
                    .first()
                    .is_some_and(u8::is_ascii_lowercase)
                && rest(&system[1..], 13)
        }
    }
}

/// A `tracestate` value: 1 to 256 printable ASCII characters other than `,` and `=`, not
/// ending in a space.
pub fn is_valid_tracestate_value(value: &str) -> bool {
    (1..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && !value.ends_with(' ')
}

/// The remote parent of B3 headers (single `b3` or the `x-b3-*` set), through the Zipkin
/// propagator.
fn b3_parent(carrier: &dyn Extractor) -> Option<TraceParent> {
    if carrier.get("b3").is_none() && carrier.get("x-b3-traceid").is_none() {
        return None;
    }
    let context = B3_ANY.extract(carrier);
    TraceParent::from_span_context(context.span().span_context())
}

/// The trace context to send onward: the current span's, else the remote parent's.
pub(crate) fn outgoing_parent() -> Option<TraceParent> {
    super::subscriber::parent_of_span(&tracing::Span::current())
        .or_else(|| current().and_then(|context| context.trace_parent()))
}

/// `cx` with teei-obs's current trace context as its span — the current `tracing` span's,
/// else the request's or message's — when `cx` has no span of its own; `None` when it has
/// one, or when there is no teei-obs context either.
pub(crate) fn bridged(cx: &Context) -> Option<Context> {
    if cx.has_active_span() {
        return None;
    }
    let parent = outgoing_parent()?;
    Some(cx.with_remote_span_context(parent.local_span_context()))
}

/// A propagator that injects teei-obs's current trace context ([`bridged`]) when the
/// `Context` it is given has no span; extraction is the inner propagator's.
#[derive(Debug)]
struct BridgePropagator<P>(P);

impl<P: TextMapPropagator> TextMapPropagator for BridgePropagator<P> {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        match bridged(cx) {
            Some(cx) => self.0.inject_context(&cx, injector),
            None => self.0.inject_context(cx, injector),
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        self.0.fields()
    }
}

/// Writes the current trace context, baggage, correlation and causation IDs into
/// `carrier`: an outgoing HTTP request's headers or a message's headers.
///
/// The correlation and causation IDs travel unchanged; without a current span or request
/// context nothing is written for the trace.
pub fn inject(carrier: &mut dyn Injector) {
    let formats = FORMATS.load(Ordering::Relaxed);
    if formats & (W3C | B3_BIT | B3_MULTI_BIT) != 0
        && let Some(parent) = outgoing_parent()
    {
        let context = opentelemetry::Context::new().with_remote_span_context(parent.span_context());
        if formats & W3C != 0 {
            // The propagator writes `tracestate` even when there is none, as an empty
            // field; an empty list is not a `tracestate` (the W3C grammar wants a member),
            // so only a non-empty one is sent.
            TRACE_CONTEXT.inject_context(&context, &mut WithoutEmptyTraceState(carrier));
            if let Some(state) = &parent.trace_state {
                carrier.set("tracestate", state.to_string());
            }
        }
        if formats & B3_BIT != 0 {
            B3_SINGLE.inject_context(&context, carrier);
        }
        if formats & B3_MULTI_BIT != 0 {
            B3_MULTI.inject_context(&context, carrier);
        }
    }
    if let Some(context) = current() {
        if formats & BAGGAGE_BIT != 0 && !context.baggage().is_empty() {
            let with_baggage = opentelemetry::Context::new().with_baggage(
                context
                    .baggage()
                    .iter()
                    .map(|(key, value)| opentelemetry::KeyValue::new(key.clone(), value.clone())),
            );
            BAGGAGE.inject_context(&with_baggage, carrier);
        }
        carrier.set(CORRELATION_HEADER, context.correlation_id.to_string());
        if let Some(causation) = &context.causation_id {
            carrier.set(CAUSATION_HEADER, causation.to_string());
        }
    }
}

/// An injector that passes everything on to the one it wraps but an empty `tracestate`.
struct WithoutEmptyTraceState<'a>(&'a mut dyn Injector);

impl Injector for WithoutEmptyTraceState<'_> {
    fn set(&mut self, key: &str, value: String) {
        if !(value.is_empty() && key == "tracestate") {
            self.0.set(key, value);
        }
    }
}

/// Whether `value` is a `traceparent` the W3C Trace Context specification accepts:
/// `version-traceid-parentid-flags` in lower-case hex, version not `ff`, IDs not all zero;
/// version `00` has exactly these four fields, a higher version may add more after a `-`.
pub fn is_valid_traceparent(value: &str) -> bool {
    fn hex(field: &str, len: usize) -> bool {
        field.len() == len
            && field
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
    fn non_zero(field: &str) -> bool {
        field.bytes().any(|b| b != b'0')
    }
    let mut fields = value.split('-');
    let (Some(version), Some(trace_id), Some(parent_id), Some(flags)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return false;
    };
    let rest_allowed = version != "00";
    hex(version, 2)
        && version != "ff"
        && hex(trace_id, 32)
        && non_zero(trace_id)
        && hex(parent_id, 16)
        && non_zero(parent_id)
        && hex(flags, 2)
        && (rest_allowed || fields.next().is_none())
}

/// Injects the current context into an outgoing HTTP request's headers.
pub fn inject_http(headers: &mut http::HeaderMap) {
    inject(&mut HeaderCarrier(headers));
}

/// Extracts the context of an incoming HTTP request.
pub fn extract_http(headers: &http::HeaderMap) -> RequestContext {
    extract_http_with_correlation(headers).0
}

/// [`extract_http`], and the `x-correlation-id` header the request sent (its first value),
/// from the same pass over the headers.
pub(crate) fn extract_http_with_correlation(
    headers: &http::HeaderMap,
) -> (RequestContext, Option<&http::HeaderValue>) {
    let scanned = ScannedHeaders::scan(headers);
    (RequestContext::extract(&scanned), scanned.found[3])
}

/// Message headers as a message bus carries them (NATS-style: case-insensitive names,
/// several values each).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageHeaders(Vec<(String, String)>);

impl MessageHeaders {
    /// Adds a header value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every `(name, value)` pair in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Injector for MessageHeaders {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(name, _)| !name.eq_ignore_ascii_case(key));
        self.0.push((key.to_owned(), value));
    }
}

impl Extractor for MessageHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        MessageHeaders::get(self, key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}
