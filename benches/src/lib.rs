//! Benchmarks only; see `benches/overhead.rs`.
