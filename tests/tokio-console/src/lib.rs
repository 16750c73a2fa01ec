//! Nothing here: the test in `tests/compose.rs` is the point of this package.
