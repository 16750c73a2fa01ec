//! Trace and span IDs: random, never zero, cheap enough to make for every span.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

/// A thread's ID state, in one thread-local so that a root span's IDs take one lookup.
struct Ids {
    /// splitmix64's state; 0 until the thread's first ID seeds it.
    state: Cell<u64>,
    /// The trace ID the next root span takes, when a sampling decision was made for it
    /// before the span existed (0: none).
    next_root: Cell<u128>,
}

thread_local! {
    static IDS: Ids = const {
        Ids {
            state: Cell::new(0),
            next_root: Cell::new(0),
        }
    };
}

/// A per-thread seed: `RandomState` keys are random per thread and per call. Never 0.
#[cold]
fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish() | 1
}

impl Ids {
    /// splitmix64: a full-period generator whose outputs pass BigCrush; not for secrets.
    #[inline]
    fn next(&self) -> u64 {
        let mut z = self.state.get();
        if z == 0 {
            z = seed();
        }
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        // Skips 0, which marks an unseeded thread (once in 2^64 steps).
        self.state.set(if z == 0 { 1 } else { z });
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[inline]
    fn span_id(&self) -> u64 {
        loop {
            let id = self.next();
            if id != 0 {
                return id;
            }
        }
    }

    #[inline]
    fn trace_id(&self) -> u128 {
        loop {
            let id = (u128::from(self.next()) << 64) | u128::from(self.next());
            if id != 0 {
                return id;
            }
        }
    }
}

/// A new, non-zero span ID.
pub(crate) fn span_id() -> u64 {
    IDS.with(Ids::span_id)
}

/// A new, non-zero trace ID.
pub(crate) fn trace_id() -> u128 {
    IDS.with(Ids::trace_id)
}

/// Makes the next root span on this thread take `id` as its trace ID (0 clears it): the
/// request layer samples a request before it makes its span, and the span must keep the
/// trace ID that decision was made for.
pub(crate) fn preset_root_trace_id(id: u128) {
    IDS.with(|ids| ids.next_root.set(id));
}

/// The trace and span IDs of a new root span: the preset trace ID if there is one, else a
/// new one.
pub(crate) fn root_ids() -> (u128, u64) {
    IDS.with(|ids| {
        let trace_id = match ids.next_root.replace(0) {
            0 => ids.trace_id(),
            id => id,
        };
        (trace_id, ids.span_id())
    })
}

/// A new random ID in UUID v4 form.
pub fn generate_id() -> String {
    let mut out = [0u8; 36];
    write_id(&mut out).to_owned()
}

/// [`generate_id`] straight into the `Arc` a context keeps: one allocation, not two.
pub(crate) fn generate_shared_id() -> Arc<str> {
    let mut out = [0u8; 36];
    Arc::from(write_id(&mut out))
}

/// Writes a random UUID v4 into `out` and returns it as text.
fn write_id(out: &mut [u8; 36]) -> &str {
    let mut bytes = trace_id().to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut at = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[at] = b'-';
            at += 1;
        }
        out[at..at + 2].copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
        at += 2;
    }
    // Only ASCII hex digits and dashes were written.
    std::str::from_utf8(out).unwrap_or_default()
}

/// Each byte's two lower-case hex digits: one load per byte instead of two shifts and two.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [HEX[byte >> 4], HEX[byte & 0x0f]];
        byte += 1;
    }
    pairs
};

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
        assert_eq!(root_ids().0, 42);
        assert_ne!(root_ids().0, 42);
        preset_root_trace_id(7);
        preset_root_trace_id(0);
        assert_ne!(root_ids().0, 7);
    }

    #[test]
    fn generated_ids_are_lower_case_hex_in_the_uuid_layout() {
        for _ in 0..1_000 {
            let id = generate_id();
            for (i, c) in id.char_indices() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    assert_eq!(c, '-', "{id}");
                } else {
                    assert!(matches!(c, '0'..='9' | 'a'..='f'), "{id}");
                }
            }
            assert!(
                matches!(&id[19..20], "8" | "9" | "a" | "b"),
                "{id}: the variant"
            );
        }
    }

    #[test]
    fn threads_get_different_sequences() {
        let a = std::thread::spawn(span_id).join().unwrap();
        let b = std::thread::spawn(span_id).join().unwrap();
        assert_ne!(a, b);
    }
}
