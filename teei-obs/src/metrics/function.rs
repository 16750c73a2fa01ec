//! Storage of the function metrics that `#[counted]` generates, and the per-call guard.
//!
//! Each annotated function gets its own `static` [`FunctionMetrics`] (and, with
//! `duration`, a `static` [`Histogram`]), so a call never hashes a label set, never locks
//! and never allocates: it writes to cells it already knows the address of.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::exemplar::{Exemplar, ExemplarCell};
use super::slot::{ROWS, Slot};

/// How a call ended; the `result` label of `function_calls_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Returned normally (an `Ok` or a non-`Result` value).
    Ok,
    /// Returned an `Err`.
    Error,
    /// Unwound by a panic.
    Panic,
    /// An `async` call whose future was dropped before it completed.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in the order the exposition lists them.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Panic,
        Outcome::Cancelled,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Panic => "panic",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// One thread's counters of one function; a cache line of its own.
#[repr(C, align(64))]
#[derive(Debug)]
struct CallRow {
    outcomes: [AtomicU64; 4],
    // Wrapping: an async call may enter on one thread and leave on another.
    concurrent: AtomicU64,
}

impl CallRow {
    const fn zero() -> CallRow {
        CallRow {
            outcomes: [const { AtomicU64::new(0) }; 4],
            concurrent: AtomicU64::new(0),
        }
    }
}

/// The service-level objectives `#[counted(objective(..))]` declared for a function; the
/// generated burn-rate alerts ([`ops`](crate::ops)) are computed from them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    success: Option<f64>,
    latency: Option<(f64, f64)>,
}

impl Objective {
    #[doc(hidden)]
    pub const fn new(success: Option<f64>, latency: Option<(f64, f64)>) -> Self {
        Objective { success, latency }
    }

    /// The share of calls that must succeed (not `error`, not `panic`), e.g. `0.999`.
    pub fn success(&self) -> Option<f64> {
        self.success
    }

    /// The latency threshold in seconds (one of the histogram's bucket bounds) and the
    /// share of calls that must finish within it, e.g. `(0.25, 0.99)`.
    pub fn latency(&self) -> Option<(f64, f64)> {
        self.latency
    }
}

/// The counters of one annotated function.
#[derive(Debug)]
pub struct FunctionMetrics {
    rows: [CallRow; ROWS],
    histogram: Option<&'static dyn HistogramRead>,
    concurrent: bool,
    objective: Option<Objective>,
    /// A recent sampled call of each outcome, for `function_calls_total`'s exemplars.
    exemplars: [ExemplarCell; 4],
}

impl FunctionMetrics {
    #[doc(hidden)]
    pub const fn new(
        histogram: Option<&'static dyn HistogramRead>,
        concurrent: bool,
        objective: Option<Objective>,
    ) -> Self {
        FunctionMetrics {
            rows: [const { CallRow::zero() }; ROWS],
            histogram,
            concurrent,
            objective,
            exemplars: [const { ExemplarCell::new() }; 4],
        }
    }

    /// A recent sampled call in bucket `bucket` of the duration histogram.
    pub fn duration_exemplar(&self, bucket: usize) -> Option<Exemplar> {
        self.histogram?.exemplar(bucket)
    }

    /// A recent sampled call that ended with `outcome`: its trace and span.
    pub fn exemplar(&self, outcome: Outcome) -> Option<Exemplar> {
        self.exemplars[outcome as usize].load()
    }

    /// The objectives declared with `#[counted(objective(..))]`, if any.
    pub fn objective(&self) -> Option<&Objective> {
        self.objective.as_ref()
    }

    /// Calls that ended with `outcome` so far.
    pub fn calls(&self, outcome: Outcome) -> u64 {
        self.rows
            .iter()
            .map(|row| row.outcomes[outcome as usize].load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// Calls that ended with `outcome` in storage row `row` (one thread's, or the shared
    /// last one): what a test capture reads to see only its own thread's calls.
    #[cfg(feature = "testing")]
    pub(crate) fn calls_in_row(&self, row: usize, outcome: Outcome) -> u64 {
        self.rows.get(row).map_or(0, |row| {
            row.outcomes[outcome as usize].load(Ordering::Relaxed)
        })
    }

    /// Calls in progress right now, if the function tracks them.
    pub fn concurrent(&self) -> Option<i64> {
        self.concurrent.then(|| {
            self.rows
                .iter()
                .map(|row| row.concurrent.load(Ordering::Relaxed))
                .fold(0, u64::wrapping_add) as i64
        })
    }

    /// The duration histogram, if the function has one.
    pub fn histogram(&self) -> Option<HistogramSnapshot> {
        self.histogram.map(|h| h.snapshot())
    }

    /// The histogram's upper bounds in seconds, if the function has `duration`.
    pub fn buckets(&self) -> Option<&'static [f64]> {
        self.histogram.map(|h| h.bounds())
    }

    /// Whether the function has `concurrent`.
    pub fn tracks_concurrency(&self) -> bool {
        self.concurrent
    }

    #[inline(always)]
    fn count(&self, slot: Slot, outcome: Outcome) {
        slot.add(&self.rows[slot.row()].outcomes[outcome as usize], 1);
    }

    #[inline(always)]
    fn move_concurrent(&self, slot: Slot, delta: u64) {
        slot.add(&self.rows[slot.row()].concurrent, delta);
    }
}

/// A point-in-time copy of a histogram, in Prometheus' shape; in seconds for durations
/// (bytes for the HTTP size histograms).
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, cumulative count)` for each finite bucket.
    pub buckets: Vec<(f64, u64)>,
    /// Number of observations (the `+Inf` bucket).
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
}

impl HistogramSnapshot {
    /// The snapshot of per-bucket counts summed over rows: `counts` holds each finite
    /// bucket's own count, then the `+Inf` bucket's; the buckets come out cumulative.
    pub(crate) fn from_counts(bounds: &[f64], counts: &[u64], sum: f64) -> Self {
        let mut cumulative = 0u64;
        let buckets = bounds
            .iter()
            .zip(&counts[..bounds.len()])
            .map(|(bound, n)| {
                cumulative += n;
                (*bound, cumulative)
            })
            .collect();
        HistogramSnapshot {
            buckets,
            count: cumulative + counts[bounds.len()],
            sum,
        }
    }
}

/// Read access to a histogram of any bucket count, for the exposition.
pub trait HistogramRead: Sync + std::fmt::Debug {
    /// Sums every row into one snapshot.
    fn snapshot(&self) -> HistogramSnapshot;
    /// The upper bounds in seconds.
    fn bounds(&'static self) -> &'static [f64];
    /// A recent sampled call in bucket `bucket` (the `+Inf` bucket is `bounds().len()`).
    fn exemplar(&self, bucket: usize) -> Option<Exemplar>;
}

/// One thread's cells of a histogram: `B` bucket counts, the `+Inf` count, the sum in
/// nanoseconds, padded to whole cache lines.
#[repr(C, align(64))]
#[derive(Debug)]
struct HistogramRow<const S: usize>([AtomicU64; S]);

impl<const S: usize> HistogramRow<S> {
    const fn zero() -> Self {
        HistogramRow([const { AtomicU64::new(0) }; S])
    }
}

/// A duration histogram with `B` finite bounds stored in rows of `S` cells.
///
/// `S` is `B + 2` rounded up to a multiple of 8; the macro computes both.
#[derive(Debug)]
pub struct Histogram<const B: usize, const S: usize> {
    bounds: [f64; B],
    bounds_ns: [u64; B],
    rows: [HistogramRow<S>; ROWS],
    /// A recent sampled call per bucket (the `+Inf` one at `B`); `S > B`.
    exemplars: [ExemplarCell; S],
}

impl<const B: usize, const S: usize> Histogram<B, S> {
    /// A histogram with upper bounds in seconds and the same bounds in nanoseconds.
    pub const fn new(bounds: [f64; B], bounds_ns: [u64; B]) -> Self {
        assert!(S >= B + 2, "histogram row too short for its buckets");
        Histogram {
            bounds,
            bounds_ns,
            rows: [const { HistogramRow::zero() }; ROWS],
            exemplars: [const { ExemplarCell::new() }; S],
        }
    }

    #[inline(always)]
    fn record(&self, slot: Slot, nanos: u64, sampled: Option<(u128, u64)>) {
        let mut bucket = B;
        for (i, bound) in self.bounds_ns.iter().enumerate() {
            if nanos <= *bound {
                bucket = i;
                break;
            }
        }
        let row = &self.rows[slot.row()].0;
        slot.add(&row[bucket], 1);
        slot.add(&row[B + 1], nanos);
        if let Some(ids) = sampled {
            self.exemplars[bucket].store(ids, nanos as f64 / 1e9);
        }
    }
}

impl<const B: usize, const S: usize> HistogramRead for Histogram<B, S> {
    fn bounds(&'static self) -> &'static [f64] {
        &self.bounds
    }

    fn exemplar(&self, bucket: usize) -> Option<Exemplar> {
        self.exemplars.get(bucket.min(B))?.load()
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut per_bucket = [0u64; S];
        for row in &self.rows {
            for (total, cell) in per_bucket.iter_mut().zip(&row.0) {
                *total = total.wrapping_add(cell.load(Ordering::Relaxed));
            }
        }
        HistogramSnapshot::from_counts(
            &self.bounds,
            &per_bucket[..=B],
            per_bucket[B + 1] as f64 / 1e9,
        )
    }
}

fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Calibrates the call clock now rather than on the first timed call.
pub(crate) fn warm_up_clock() {
    clock();
}

/// What a call measures between its start and its end.
pub trait Timing: Sync + std::fmt::Debug + 'static {
    /// State carried from start to end.
    type Start: Copy + Send + std::fmt::Debug;
    /// Reads the start of a call.
    fn start() -> Self::Start;
    /// Records the call that began at `start`, in the sampled span `sampled` if any.
    fn finish(&self, slot: Slot, start: Self::Start, sampled: Option<(u128, u64)>);
}

/// The timing of a function without `duration`: nothing.
#[derive(Debug)]
pub struct NoTiming;

/// The one [`NoTiming`] value generated code points at.
pub static NO_TIMING: NoTiming = NoTiming;

impl Timing for NoTiming {
    type Start = ();
    #[inline(always)]
    fn start() {}
    #[inline(always)]
    fn finish(&self, _: Slot, (): (), _: Option<(u128, u64)>) {}
}

impl<const B: usize, const S: usize> Timing for Histogram<B, S> {
    type Start = u64;
    #[inline(always)]
    fn start() -> u64 {
        clock().raw()
    }
    #[inline(always)]
    fn finish(&self, slot: Slot, start: u64, sampled: Option<(u128, u64)>) {
        let clock = clock();
        self.record(slot, clock.delta_as_nanos(start, clock.raw()), sampled);
    }
}

/// One call of an annotated function, from entry to exit.
///
/// Ended by [`Call::finish`] with the returned value's outcome; dropped without it, the
/// call counts as a panic (while unwinding) or as cancelled (an `async` body dropped).
#[derive(Debug)]
#[must_use]
pub struct Call<T: Timing, const CONCURRENT: bool> {
    metrics: &'static FunctionMetrics,
    timing: &'static T,
    start: T::Start,
}

impl<T: Timing, const CONCURRENT: bool> Call<T, CONCURRENT> {
    /// Enters a call.
    #[inline(always)]
    pub fn start(metrics: &'static FunctionMetrics, timing: &'static T) -> Self {
        if CONCURRENT {
            metrics.move_concurrent(Slot::current(), 1);
        }
        Call {
            metrics,
            timing,
            start: T::start(),
        }
    }

    /// Leaves the call with `outcome`.
    #[inline(always)]
    pub fn finish(self, outcome: Outcome) {
        self.end(outcome);
        std::mem::forget(self);
    }

    #[inline(always)]
    fn end(&self, outcome: Outcome) {
        let slot = Slot::current();
        // One thread-local read; only a call in a sampled span stores exemplars.
        let sampled = super::exemplar::sampled();
        self.timing.finish(slot, self.start, sampled);
        self.metrics.count(slot, outcome);
        if let Some(ids) = sampled {
            self.metrics.exemplars[outcome as usize].store(ids, 1.0);
        }
        if CONCURRENT {
            self.metrics.move_concurrent(slot, 1u64.wrapping_neg());
        }
    }
}

impl<T: Timing, const CONCURRENT: bool> Drop for Call<T, CONCURRENT> {
    #[cold]
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            Outcome::Panic
        } else {
            Outcome::Cancelled
        };
        self.end(outcome);
    }
}

/// Classifies a returned `Result` by its variant.
///
/// Generated code calls `(&value).__teei_outcome()`: method resolution picks this impl for
/// `Result` (any alias of it included) and [`AnyOutcome`] for every other type.
pub trait ResultOutcome {
    /// The outcome of returning `self`.
    fn __teei_outcome(&self) -> Outcome;
}

impl<T, E> ResultOutcome for Result<T, E> {
    #[inline(always)]
    fn __teei_outcome(&self) -> Outcome {
        match self {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Error,
        }
    }
}

/// The fallback of [`ResultOutcome`]: any non-`Result` value is a success.
pub trait AnyOutcome {
    /// Always [`Outcome::Ok`].
    #[inline(always)]
    fn __teei_outcome(&self) -> Outcome {
        Outcome::Ok
    }
}

impl<T: ?Sized> AnyOutcome for &T {}
