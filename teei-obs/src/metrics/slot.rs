//! Which row of a function's metric storage the current thread writes to.
//!
//! Every counted function owns [`ROWS`] cache-line-aligned rows of counters. The first
//! [`EXCLUSIVE_ROWS`] rows are each owned by at most one live thread at a time, so that
//! thread updates them with a plain load and store, no `lock`-prefixed instruction and no
//! cache line shared with another writer. Threads beyond that share the last row and use
//! `fetch_add`. A scrape sums all rows with relaxed loads, which is exact because every
//! row has a single writer or only atomic writers.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Number of counter rows per function.
pub const ROWS: usize = 16;
/// Rows handed out to one thread each; the remaining row is shared.
pub(crate) const EXCLUSIVE_ROWS: usize = ROWS - 1;
const SHARED_ROW: u8 = (ROWS - 1) as u8;
const UNASSIGNED: u8 = u8::MAX;

/// Bit `i` set: exclusive row `i` is owned by a live thread.
static OWNED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // No destructor, const-initialised: reading it is one thread-pointer-relative load.
    static SLOT: Cell<u8> = const { Cell::new(UNASSIGNED) };
    // Touched only when a row is claimed; its destructor hands the row back.
    static RELEASE: RowRelease = const { RowRelease(Cell::new(UNASSIGNED)) };
}

/// The current thread's row and how to write to it.
#[derive(Clone, Copy, Debug)]
pub struct Slot(u8);

impl Slot {
    /// The row of the calling thread, claiming one on first use.
    #[inline(always)]
    pub fn current() -> Slot {
        let row = SLOT.with(Cell::get);
        if row == UNASSIGNED {
            return Slot(claim());
        }
        Slot(row)
    }

    /// Index of the row to write to.
    #[inline(always)]
    pub fn row(self) -> usize {
        usize::from(self.0)
    }

    /// Adds `value` (wrapping) to `cell`, a cell of this slot's row.
    #[inline(always)]
    pub fn add(self, cell: &AtomicU64, value: u64) {
        if self.0 == SHARED_ROW {
            cell.fetch_add(value, Ordering::Relaxed);
        } else {
            // Sole writer of this row: a relaxed load and store cannot lose an update.
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(value),
                Ordering::Relaxed,
            );
        }
    }
}

#[cold]
#[inline(never)]
fn claim() -> u8 {
    let row = claim_exclusive().unwrap_or(SHARED_ROW);
    SLOT.with(|slot| slot.set(row));
    row
}

fn claim_exclusive() -> Option<u8> {
    let mut owned = OWNED.load(Ordering::Relaxed);
    loop {
        let free = (!owned).trailing_zeros() as usize;
        if free >= EXCLUSIVE_ROWS {
            return None;
        }
        let row = free as u8;
        // The destructor that returns the row must be registrable; during thread
        // teardown it may not be, and then the shared row is the safe answer.
        match OWNED.compare_exchange_weak(
            owned,
            owned | (1 << free),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                if RELEASE.try_with(|release| release.0.set(row)).is_ok() {
                    return Some(row);
                }
                OWNED.fetch_and(!(1 << free), Ordering::Release);
                return None;
            }
            Err(now) => owned = now,
        }
    }
}

struct RowRelease(Cell<u8>);

impl Drop for RowRelease {
    fn drop(&mut self) {
        let row = self.0.get();
        if row == UNASSIGNED {
            return;
        }
        // Later calls on this thread (from other thread-local destructors) must not
        // write to a row that another thread may own next.
        let _ = SLOT.try_with(|slot| slot.set(SHARED_ROW));
        // Release: the next owner's Acquire claim sees every value this thread stored.
        OWNED.fetch_and(!(1u64 << row), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rows are process-wide: the tests that count them must not overlap.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn threads_beyond_the_exclusive_rows_share_the_last_row_without_losing_counts() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let cell_rows: Vec<AtomicU64> = (0..ROWS).map(|_| AtomicU64::new(0)).collect();
        let barrier = std::sync::Barrier::new(EXCLUSIVE_ROWS + 4);
        std::thread::scope(|scope| {
            for _ in 0..EXCLUSIVE_ROWS + 4 {
                scope.spawn(|| {
                    let slot = Slot::current();
                    barrier.wait();
                    for _ in 0..10_000 {
                        slot.add(&cell_rows[slot.row()], 1);
                    }
                });
            }
        });
        let total: u64 = cell_rows.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        assert_eq!(total, (EXCLUSIVE_ROWS as u64 + 4) * 10_000);
        assert!(cell_rows[SHARED_ROW as usize].load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_finished_thread_hands_its_row_back() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let row = std::thread::spawn(|| {
            let row = Slot::current().row();
            assert_ne!(OWNED.load(Ordering::Relaxed) & (1 << row), 0, "claimed");
            row
        })
        .join()
        .unwrap();
        assert!(row < EXCLUSIVE_ROWS);
        assert_eq!(
            OWNED.load(Ordering::Relaxed) & (1 << row),
            0,
            "released on exit"
        );
    }
}
