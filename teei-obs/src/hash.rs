//! A fast hasher for the per-thread caches on the request path, whose keys are the
//! program's own (route templates, field names, addresses) and never text a client
//! chooses, so they need no defence against chosen collisions: SipHash, the standard
//! `HashMap`'s, cost about 300 instructions a request there (callgrind, see
//! docs/performance.md). A word at a time, rotate, xor and multiply (FxHash's step).

use std::hash::{BuildHasherDefault, Hasher};

/// The hasher.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastHasher(u64);

/// Builds [`FastHasher`]s, for `HashMap::with_hasher` / `HashMap::default`.
pub(crate) type FastBuild = BuildHasherDefault<FastHasher>;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn distinct_keys_hash_apart() {
        let build = FastBuild::default();
        let routes = [
            "/",
            "/orders",
            "/orders/{id}",
            "/v1/profile/{id}",
            "unmatched",
        ];
        let hashes: HashSet<u64> = routes.iter().map(|r| build.hash_one(r)).collect();
        assert_eq!(hashes.len(), routes.len());
        let addresses: HashSet<u64> = (0..1_000usize)
            .map(|i| build.hash_one((i * 64, 12usize, 4096usize)))
            .collect();
        assert_eq!(addresses.len(), 1_000);
    }
}
