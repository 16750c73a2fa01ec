//! A service built on `teei-obs` with `default-features = false`. `scripts/test` runs this
//! package's tests on their own (`cargo test -p teei-obs-lean`), so teei-obs is compiled
//! without OTLP, Sentry or any client, and checks that `cargo tree` shows none of them.

use teei_obs::{counted, traced};

/// A counted and traced function, as a lean service would have.
#[counted]
#[traced]
pub fn handle(order: u64) -> Result<u64, String> {
    if order == 0 {
        Err("no order".to_owned())
    } else {
        Ok(order)
    }
}
