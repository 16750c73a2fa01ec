//! Examples live in `examples/`; see the README there.
