//! Trace and span IDs: random, never zero, cheap enough to make for every span.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
    // The trace ID the next root span takes, when a sampling decision was made for it
    // before the span existed (0: none).
    static NEXT_ROOT: Cell<u128> = const { Cell::new(0) };
}

/// A per-thread seed: `RandomState` keys are random per thread and per call.
fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// splitmix64: a full-period generator whose outputs pass BigCrush; not for secrets.
fn next() -> u64 {
    STATE.with(|state| {
        let mut z = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// A new, non-zero span ID.
pub(crate) fn span_id() -> u64 {
    loop {
        let id = next();
        if id != 0 {
            return id;
        }
    }
}

/// A new, non-zero trace ID.
pub(crate) fn trace_id() -> u128 {
    loop {
        let id = (u128::from(next()) << 64) | u128::from(next());
        if id != 0 {
            return id;
        }
    }
}

/// Makes the next root span on this thread take `id` as its trace ID (0 clears it): the
/// request layer samples a request before it makes its span, and the span must keep the
/// trace ID that decision was made for.
pub(crate) fn preset_root_trace_id(id: u128) {
    NEXT_ROOT.with(|next| next.set(id));
}

/// The trace ID of a new root span: the preset one if there is one, else a new one.
pub(crate) fn root_trace_id() -> u128 {
    match NEXT_ROOT.with(|next| next.replace(0)) {
        0 => trace_id(),
        id => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_non_zero_and_do_not_repeat() {
        let ids: std::collections::HashSet<u64> = (0..10_000).map(|_| span_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(!ids.contains(&0));
        assert_ne!(trace_id(), trace_id());
    }

    #[test]
    fn a_preset_root_trace_id_is_taken_once() {
        preset_root_trace_id(42);
        assert_eq!(root_trace_id(), 42);
        assert_ne!(root_trace_id(), 42);
        preset_root_trace_id(7);
        preset_root_trace_id(0);
        assert_ne!(root_trace_id(), 7);
    }

    #[test]
    fn threads_get_different_sequences() {
        let a = std::thread::spawn(span_id).join().unwrap();
        let b = std::thread::spawn(span_id).join().unwrap();
        assert_ne!(a, b);
    }
}
