//! The HTTP series of one `(method, route)` in per-thread rows, as `#[counted]` keeps a
//! function's: a request writes its thread's row with plain loads and stores (no `lock`
//! prefix, no cache line shared with another writer), and a scrape sums the rows. A row
//! holds the three histograms, the requests in flight and the counts of up to
//! [`STATUSES`] response statuses.
//!
//! `prometheus::Histogram::observe` costs four atomic read-modify-writes (the hot/cold
//! count, the bucket, the count, and a compare-and-swap loop for the `f64` sum); three
//! histograms, a counter and a gauge per request made that fifteen.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::HistogramSnapshot;
use crate::metrics::slot::{ROWS, Slot};

/// The upper bounds of `http_request_duration_seconds`: Prometheus' default buckets, as a
/// `#[counted(duration)]` function's.
pub(super) const DURATION_BOUNDS: [f64; 11] = crate::metrics::DEFAULT_BUCKETS;

/// The upper bounds of the request and response size histograms, in bytes: 64 B to 4 MiB
/// by fours.
pub(super) const SIZE_BOUNDS: [f64; 9] = [
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
];

/// One of the three histograms of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Which {
    /// `http_request_duration_seconds`, recorded in nanoseconds.
    Duration,
    /// `http_request_size_bytes`.
    RequestSize,
    /// `http_response_size_bytes`.
    ResponseSize,
}

impl Which {
    /// Where the histogram's cells start in a row, its bounds in recorded units, and the
    /// factor from recorded units to the exposed ones.
    fn layout(self) -> (usize, &'static [u64], f64) {
        const DURATION_NS: [u64; 11] = {
            let mut nanos = [0u64; 11];
            let mut i = 0;
            while i < 11 {
                nanos[i] = (DURATION_BOUNDS[i] * 1e9) as u64;
                i += 1;
            }
            nanos
        };
        const SIZES: [u64; 9] = {
            let mut bytes = [0u64; 9];
            let mut i = 0;
            while i < 9 {
                bytes[i] = SIZE_BOUNDS[i] as u64;
                i += 1;
            }
            bytes
        };
        match self {
            Which::Duration => (0, &DURATION_NS, 1e-9),
            Which::RequestSize => (DURATION_NS.len() + 2, &SIZES, 1.0),
            Which::ResponseSize => (DURATION_NS.len() + 2 + SIZES.len() + 2, &SIZES, 1.0),
        }
    }

    /// The exposed upper bounds.
    pub(super) fn bounds(self) -> &'static [f64] {
        match self {
            Which::Duration => &DURATION_BOUNDS,
            Which::RequestSize | Which::ResponseSize => &SIZE_BOUNDS,
        }
    }
}

/// The cell of the requests in flight (wrapping: a request may end on another thread).
const IN_FLIGHT: usize = 35;

/// How many statuses a route counts in its rows; further ones go to a locked map.
pub(super) const STATUSES: usize = 8;

/// Where the status counts start.
const STATUS_START: usize = IN_FLIGHT + 1;

/// Cells per row: each histogram's buckets, its `+Inf` bucket and its sum (13 + 11 + 11),
/// the in-flight cell and the status counts, padded to whole cache lines.
const CELLS: usize = 48;

const _: () = assert!(STATUS_START + STATUSES <= CELLS);

/// One thread's cells of one route.
#[repr(C, align(64))]
#[derive(Debug)]
struct Row([AtomicU64; CELLS]);

/// The three histograms of one `(method, route)`.
#[derive(Debug)]
pub(super) struct RouteCells {
    rows: Box<[Row; ROWS]>,
}

impl Default for RouteCells {
    fn default() -> Self {
        RouteCells {
            rows: Box::new([const { Row([const { AtomicU64::new(0) }; CELLS]) }; ROWS]),
        }
    }
}

impl RouteCells {
    /// Records `value` (nanoseconds for [`Which::Duration`], bytes otherwise) in the calling
    /// thread's row; returns its bucket (the `+Inf` one is the bounds' length).
    #[inline]
    pub(super) fn observe(&self, which: Which, value: u64) -> usize {
        let (start, bounds, _) = which.layout();
        let bucket = bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(bounds.len());
        let slot = Slot::current();
        let row = &self.rows[slot.row()].0;
        slot.add(&row[start + bucket], 1);
        slot.add(&row[start + bounds.len() + 1], value);
        bucket
    }

    /// Adds `delta` to this thread's count of requests in flight.
    #[inline]
    pub(super) fn add_in_flight(&self, delta: i64) {
        let slot = Slot::current();
        slot.add(&self.rows[slot.row()].0[IN_FLIGHT], delta as u64);
    }

    /// The requests in flight, summed over the rows.
    pub(super) fn in_flight(&self) -> i64 {
        self.sum(IN_FLIGHT) as i64
    }

    /// Counts one response of the status in slot `index` (below [`STATUSES`]).
    #[inline]
    pub(super) fn count_status(&self, index: usize) {
        let slot = Slot::current();
        slot.add(&self.rows[slot.row()].0[STATUS_START + index], 1);
    }

    /// The responses counted in status slot `index`.
    pub(super) fn status_count(&self, index: usize) -> u64 {
        self.sum(STATUS_START + index)
    }

    fn sum(&self, cell: usize) -> u64 {
        self.rows
            .iter()
            .map(|row| row.0[cell].load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// The sum of every row's cells of `which`.
    pub(super) fn snapshot(&self, which: Which) -> HistogramSnapshot {
        let (start, bounds, scale) = which.layout();
        let mut totals = vec![0u64; bounds.len() + 2];
        for row in self.rows.iter() {
            for (total, cell) in totals.iter_mut().zip(&row.0[start..]) {
                *total = total.wrapping_add(cell.load(Ordering::Relaxed));
            }
        }
        HistogramSnapshot::from_counts(
            which.bounds(),
            &totals[..=bounds.len()],
            totals[bounds.len() + 1] as f64 * scale,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_their_bucket_and_threads_add_up() {
        let cells = std::sync::Arc::new(RouteCells::default());
        // On a bound counts in that bucket; above the last, in +Inf.
        assert_eq!(cells.observe(Which::Duration, 5_000_000), 0);
        assert_eq!(cells.observe(Which::Duration, 5_000_001), 1);
        assert_eq!(cells.observe(Which::Duration, 11_000_000_000), 11);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let cells = cells.clone();
                scope.spawn(move || {
                    for _ in 0..1000 {
                        cells.observe(Which::ResponseSize, 100);
                    }
                });
            }
        });
        let duration = cells.snapshot(Which::Duration);
        assert_eq!(duration.count, 3);
        assert_eq!(duration.buckets[0], (0.005, 1));
        assert_eq!(duration.buckets[10], (10.0, 2));
        assert!(
            (duration.sum - 11.010_000_001).abs() < 1e-9,
            "{}",
            duration.sum
        );
        let response = cells.snapshot(Which::ResponseSize);
        assert_eq!(response.count, 4000);
        assert_eq!(response.buckets[..2], [(64.0, 0), (256.0, 4000)]);
        assert_eq!(response.sum, 400_000.0);
        assert_eq!(cells.snapshot(Which::RequestSize).count, 0, "kept apart");
    }

    #[test]
    fn a_request_may_leave_on_another_thread_and_statuses_count_apart() {
        let cells = std::sync::Arc::new(RouteCells::default());
        cells.add_in_flight(1);
        cells.add_in_flight(1);
        let other = cells.clone();
        std::thread::spawn(move || other.add_in_flight(-1))
            .join()
            .unwrap();
        assert_eq!(cells.in_flight(), 1);
        cells.count_status(0);
        cells.count_status(STATUSES - 1);
        cells.count_status(STATUSES - 1);
        assert_eq!(
            (
                cells.status_count(0),
                cells.status_count(1),
                cells.status_count(STATUSES - 1)
            ),
            (1, 0, 2)
        );
        assert_eq!(cells.snapshot(Which::ResponseSize).count, 0, "kept apart");
    }
}
