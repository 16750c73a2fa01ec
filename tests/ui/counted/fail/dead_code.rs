#![deny(dead_code)]

use teei_obs::counted;

// The macro must not hide the user's lints: an unused annotated function is still dead.
#[counted]
fn never_called() {}

fn main() {}
