//! The series of one `(method, route)`, shared by every thread that serves the route and
//! read by the collector.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use super::cells::{DURATION_BOUNDS, RouteCells, STATUSES};
use crate::metrics::exemplar::ExemplarCell;

/// The series of one `(method, route)` and a recent sampled request per duration bucket
/// (the `+Inf` one last), shared by every thread that serves the route.
#[derive(Debug, Default)]
pub(super) struct RouteSeries {
    pub(super) cells: RouteCells,
    pub(super) exemplars: [ExemplarCell; DURATION_BOUNDS.len() + 1],
    /// The status each of the cells' status slots counts; 0 while free.
    statuses: [AtomicU16; STATUSES],
    /// Responses of statuses beyond the slots, and `error` (no response at all).
    other_statuses: Mutex<BTreeMap<String, u64>>,
}

impl RouteSeries {
    /// The status slot counting `code`, claimed on first use; `None` when all are taken.
    pub(super) fn status_slot(&self, code: u16) -> Option<usize> {
        for (index, slot) in self.statuses.iter().enumerate() {
            match slot.load(Ordering::Acquire) {
                0 => match slot.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return Some(index),
                    Err(taken) if taken == code => return Some(index),
                    Err(_) => {}
                },
                taken if taken == code => return Some(index),
                _ => {}
            }
        }
        None
    }

    /// Counts a response with `status` (`code` when it is one).
    pub(super) fn count(&self, status: &str, code: Option<u16>) {
        match code
            .filter(|code| *code != 0)
            .and_then(|code| self.status_slot(code))
        {
            Some(index) => self.cells.count_status(index),
            None => {
                let mut others = self
                    .other_statuses
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                match others.get_mut(status) {
                    Some(count) => *count += 1,
                    None => {
                        others.insert(status.to_owned(), 1);
                    }
                }
            }
        }
    }

    /// Every status counted so far (declared ones at zero), with its count.
    pub(super) fn statuses(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .statuses
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| match slot.load(Ordering::Acquire) {
                0 => None,
                code => Some((code.to_string(), self.cells.status_count(index))),
            })
            .collect();
        let others = self
            .other_statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        counts.extend(
            others
                .iter()
                .map(|(status, count)| (status.clone(), *count)),
        );
        counts
    }
}

/// Every route's series by `(method, route)`: locked when a thread first serves a route,
/// and at a scrape; written into without a lock.
pub(super) type Series = Arc<Mutex<BTreeMap<(&'static str, String), Arc<RouteSeries>>>>;
