// Registrations need `#[link_section]`; `forbid` cannot be overridden locally, so a crate
// that forbids unsafe code cannot host annotated functions. `deny` works (see pass/).
#![forbid(unsafe_code)]

use teei_obs::counted;

#[counted]
pub fn handler() {}

fn main() {
    handler();
}
