//! `floor`: the least a request layer can do and still do what issue 17 asks of teei-obs's
//! (W3C trace context in, trace and span IDs current for the handler, a correlation ID in
//! and back out, the HTTP metrics — request count by status, duration, request and
//! response size — and a server span for the sampled tenth, handed to another thread),
//! hand-written for this one benchmark: no configuration, no redaction, one route's
//! series in plain per-thread counters, a span that is six numbers and a route. It is
//! not a product; it tells how much of teei-obs's cost per request is the work itself
//! and how much is teei-obs.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Request, Response};

const CORRELATION: HeaderName = HeaderName::from_static("x-correlation-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// Seconds, as `http_request_duration_seconds` buckets them.
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bytes, as the request and response size histograms bucket them.
const SIZE_BOUNDS: [u64; 8] = [
    100, 1_000, 10_000, 100_000, 1e6 as u64, 1e7 as u64, 1e8 as u64, 1e9 as u64,
];

/// One histogram's counts on one thread: bucket counts, sum and count.
#[derive(Default)]
struct Cells {
    buckets: [u64; 12],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Series {
    duration: Cells,
    request_size: Cells,
    response_size: Cells,
    /// Requests by status class (1xx … 5xx) and errors.
    statuses: [u64; 6],
    in_flight: i64,
}

thread_local! {
    static SERIES: RefCell<Series> = RefCell::new(Series::default());
    static RANDOM: Cell<u64> = const { Cell::new(0) };
    /// The request's trace and span IDs, for the handler and its log lines.
    static CURRENT: Cell<(u128, u64)> = const { Cell::new((0, 0)) };
    /// Finished spans waiting for the export thread: handed over 256 at a time, so that a
    /// span costs no thread wake-up.
    static BATCH: RefCell<Vec<FinishedSpan>> = const { RefCell::new(Vec::new()) };
}

/// Spans per hand-over to the export thread.
const BATCH_SIZE: usize = 256;

/// xorshift64*, seeded from the wall clock once per thread.
fn random() -> u64 {
    RANDOM.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

fn observe(cells: &mut Cells, bucket: usize, value: f64) {
    cells.buckets[bucket] += 1;
    cells.sum += value;
    cells.count += 1;
}

fn size_bucket(size: u64) -> usize {
    SIZE_BOUNDS
        .iter()
        .position(|&b| size <= b)
        .unwrap_or(SIZE_BOUNDS.len())
}

/// A finished server span, as the export thread gets it.
#[allow(dead_code)] // read by nobody: the exporter drops it, as teei's stack here does
struct FinishedSpan {
    trace_id: u128,
    span_id: u64,
    parent: u64,
    start: Instant,
    nanos: u64,
    route: Option<MatchedPath>,
    status: u16,
}

/// `traceparent: 00-<32 hex>-<16 hex>-<2 hex>`, the version-00 form only.
fn parse_traceparent(value: &[u8]) -> Option<(u128, u64, bool)> {
    if value.len() != 55 || &value[..3] != b"00-" || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let hex = |bytes: &[u8]| -> Option<u128> {
        let mut n = 0u128;
        for &b in bytes {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            n = n << 4 | u128::from(digit);
        }
        Some(n)
    };
    let trace = hex(&value[3..35])?;
    let parent = hex(&value[36..52])? as u64;
    let flags = hex(&value[53..55])?;
    (trace != 0 && parent != 0).then_some((trace, parent, flags & 1 == 1))
}

fn valid_correlation(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// A random UUID, version 4.
fn generated_correlation() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = (u128::from(random()) << 64 | u128::from(random())) & !(0xf << 76) & !(0x3 << 62)
        | 0x4 << 76
        | 0x2 << 62;
    let mut text = [0u8; 36];
    let mut nibble = 32;
    for (i, slot) in text.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            *slot = b'-';
        } else {
            nibble -= 1;
            *slot = HEX[(bits >> (nibble * 4)) as usize & 0xf];
        }
    }
    HeaderValue::from_bytes(&text).expect("hex and dashes")
}

#[derive(Clone)]
pub struct FloorLayer {
    spans: mpsc::SyncSender<Vec<FinishedSpan>>,
}

/// The layer, and the thread that takes its sampled spans (and drops them).
pub fn layer() -> FloorLayer {
    let (spans, receiver) = mpsc::sync_channel::<Vec<FinishedSpan>>(64);
    std::thread::spawn(move || {
        for batch in receiver {
            drop(batch);
        }
    });
    FloorLayer { spans }
}

impl<S> tower_layer::Layer<S> for FloorLayer {
    type Service = Floor<S>;
    fn layer(&self, inner: S) -> Floor<S> {
        Floor {
            inner,
            spans: self.spans.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Floor<S> {
    inner: S,
    spans: mpsc::SyncSender<Vec<FinishedSpan>>,
}

impl<S, B, R> tower_service::Service<Request<B>> for Floor<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    R: http_body::Body,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let headers = request.headers();
        let (trace_id, parent, sampled) = headers
            .get(TRACEPARENT)
            .and_then(|value| parse_traceparent(value.as_bytes()))
            .map_or_else(
                || {
                    let trace = u128::from(random()) << 64 | u128::from(random());
                    // 10 % of new traces, decided on the trace ID as TraceIdRatioBased does.
                    (trace, 0, (trace as u64 >> 1) < u64::MAX / 20)
                },
                |(trace, parent, sampled)| (trace, parent, sampled),
            );
        let span_id = random() | 1;
        let correlation = match headers.get(CORRELATION) {
            Some(sent) if valid_correlation(sent) => sent.clone(),
            _ => generated_correlation(),
        };
        let size = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()?.parse::<u64>().ok());
        SERIES.with(|series| {
            let mut series = series.borrow_mut();
            series.in_flight += 1;
            if let Some(size) = size {
                observe(&mut series.request_size, size_bucket(size), size as f64);
            }
        });
        let route = sampled
            .then(|| request.extensions().get::<MatchedPath>().cloned())
            .flatten();
        let previous = CURRENT.replace((trace_id, span_id));
        let inner = self.inner.call(request);
        CURRENT.set(previous);
        FloorFuture {
            inner,
            span: (trace_id, span_id, parent, sampled, route),
            spans: self.spans.clone(),
            started,
            correlation: Some(correlation),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct FloorFuture<F> {
        #[pin]
        inner: F,
        span: (u128, u64, u64, bool, Option<MatchedPath>),
        spans: mpsc::SyncSender<Vec<FinishedSpan>>,
        started: Instant,
        correlation: Option<HeaderValue>,
    }
}

impl<F, R, E> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    R: http_body::Body,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let previous = CURRENT.replace((this.span.0, this.span.1));
        let polled = this.inner.poll(cx);
        CURRENT.set(previous);
        let Poll::Ready(mut result) = polled else {
            return Poll::Pending;
        };
        let nanos = this.started.elapsed().as_nanos() as u64;
        let seconds = nanos as f64 * 1e-9;
        let status = result
            .as_ref()
            .map_or(0, |response| response.status().as_u16());
        let size = result
            .as_ref()
            .ok()
            .and_then(|response| response.body().size_hint().exact());
        SERIES.with(|series| {
            let mut series = series.borrow_mut();
            series.in_flight -= 1;
            series.statuses[usize::from(status / 100).min(5)] += 1;
            let bucket = BOUNDS
                .iter()
                .position(|&b| seconds <= b)
                .unwrap_or(BOUNDS.len());
            observe(&mut series.duration, bucket, seconds);
            if let Some(size) = size {
                observe(&mut series.response_size, size_bucket(size), size as f64);
            }
        });
        let (trace_id, span_id, parent, sampled, route) = this.span;
        if *sampled {
            let span = FinishedSpan {
                trace_id: *trace_id,
                span_id: *span_id,
                parent: *parent,
                start: *this.started,
                nanos,
                route: route.take(),
                status,
            };
            BATCH.with(|batch| {
                let mut batch = batch.borrow_mut();
                batch.push(span);
                if batch.len() >= BATCH_SIZE {
                    let full = std::mem::replace(&mut *batch, Vec::with_capacity(BATCH_SIZE));
                    let _ = this.spans.try_send(full);
                }
            });
        }
        if let (Ok(response), Some(value)) = (&mut result, this.correlation.take()) {
            response.headers_mut().insert(CORRELATION, value);
        }
        Poll::Ready(result)
    }
}
