//! Exemplars: for each bucket of a duration histogram, and each result of a call counter,
//! the trace and span of a recent *sampled* call that landed there — what takes a
//! dashboard's latency spike to the trace that caused it (OpenMetrics exposition only).
//!
//! The hot path pays one thread-local read: the subscriber keeps, per thread, the innermost
//! entered span that is sampled. Only a sampled call stores an exemplar, into a fixed cell
//! of its bucket, lock-free (a sequence lock whose writer gives up when another thread is
//! writing the same cell: an exemplar is a sample, not a count).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    /// The innermost entered span of this thread that is sampled: its trace and span IDs.
    static SAMPLED: Cell<Option<(u128, u64)>> = const { Cell::new(None) };
}

/// The trace and span IDs of the sampled span this thread is in, if any.
#[inline(always)]
pub(crate) fn sampled() -> Option<(u128, u64)> {
    SAMPLED.try_with(Cell::get).ok().flatten()
}

/// Makes `ids` this thread's sampled span; returns the one before.
pub(crate) fn set_sampled(ids: Option<(u128, u64)>) -> Option<(u128, u64)> {
    SAMPLED.try_with(|cell| cell.replace(ids)).ok().flatten()
}

/// One exemplar as the exposition writes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exemplar {
    /// The sampled span's trace.
    pub trace_id: u128,
    /// The sampled span.
    pub span_id: u64,
    /// The observed value (seconds for durations, 1 for a call).
    pub value: f64,
    /// When, in seconds since the Unix epoch.
    pub timestamp: f64,
}

/// Where one exemplar is kept.
#[derive(Debug)]
pub struct ExemplarCell {
    /// Even when stable, odd while written; 0 while never written.
    seq: AtomicU64,
    trace_high: AtomicU64,
    trace_low: AtomicU64,
    span: AtomicU64,
    value: AtomicU64,
    millis: AtomicU64,
}

impl Default for ExemplarCell {
    fn default() -> Self {
        ExemplarCell::new()
    }
}

impl ExemplarCell {
    /// An empty cell.
    pub const fn new() -> Self {
        ExemplarCell {
            seq: AtomicU64::new(0),
            trace_high: AtomicU64::new(0),
            trace_low: AtomicU64::new(0),
            span: AtomicU64::new(0),
            value: AtomicU64::new(0),
            millis: AtomicU64::new(0),
        }
    }

    /// Keeps `value` observed in the span `ids`, unless another thread is writing the cell.
    #[cold]
    pub fn store(&self, (trace_id, span_id): (u128, u64), value: f64) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 1
            || self
                .seq
                .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.trace_high
            .store((trace_id >> 64) as u64, Ordering::Relaxed);
        self.trace_low.store(trace_id as u64, Ordering::Relaxed);
        self.span.store(span_id, Ordering::Relaxed);
        self.value.store(value.to_bits(), Ordering::Relaxed);
        self.millis.store(millis, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }

    /// The exemplar kept, if any (`None` too while a write is under way).
    pub fn load(&self) -> Option<Exemplar> {
        for _ in 0..4 {
            let before = self.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let exemplar = Exemplar {
                trace_id: (u128::from(self.trace_high.load(Ordering::Relaxed)) << 64)
                    | u128::from(self.trace_low.load(Ordering::Relaxed)),
                span_id: self.span.load(Ordering::Relaxed),
                value: f64::from_bits(self.value.load(Ordering::Relaxed)),
                timestamp: self.millis.load(Ordering::Relaxed) as f64 / 1000.0,
            };
            std::sync::atomic::fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return Some(exemplar);
            }
        }
        None
    }
}

/// The value of label `name` among a sample's `labels`: how the exposition's exemplar
/// lookups find their series.
pub(crate) fn label<'a>(labels: &'a [prometheus::proto::LabelPair], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|pair| pair.name() == name)
        .map(|pair| pair.value())
}

/// The bucket a value falls in among `bounds` (upper bounds, ascending): its index, or
/// `bounds.len()` for `+Inf`.
pub(crate) fn bucket_of(bounds: &[f64], value: f64) -> usize {
    bounds
        .iter()
        .position(|bound| value <= *bound)
        .unwrap_or(bounds.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_keeps_the_last_exemplar_and_starts_empty() {
        let cell = ExemplarCell::new();
        assert_eq!(cell.load(), None);
        cell.store(
            (
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
            ),
            0.25,
        );
        let kept = cell.load().unwrap();
        assert_eq!(kept.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(kept.span_id, 0x00f0_67aa_0ba9_02b7);
        assert_eq!(kept.value, 0.25);
        assert!(kept.timestamp > 1.7e9);
        cell.store((1, 2), 0.5);
        assert_eq!(cell.load().unwrap().span_id, 2);
    }

    #[test]
    fn the_sampled_span_is_per_thread() {
        assert_eq!(set_sampled(Some((7, 8))), None);
        assert_eq!(sampled(), Some((7, 8)));
        std::thread::spawn(|| assert_eq!(sampled(), None))
            .join()
            .unwrap();
        assert_eq!(set_sampled(None), Some((7, 8)));
    }

    #[test]
    fn buckets_are_found_by_upper_bound() {
        let bounds = [0.1, 0.5, 1.0];
        assert_eq!(bucket_of(&bounds, 0.05), 0);
        assert_eq!(bucket_of(&bounds, 0.1), 0);
        assert_eq!(bucket_of(&bounds, 0.7), 2);
        assert_eq!(bucket_of(&bounds, 3.0), 3);
    }
}
