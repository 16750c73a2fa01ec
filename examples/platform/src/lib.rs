//! The seven services of the TEEI platform, rebuilt on teei-obs: the project's runnable
//! example and main job.
//!
//! Each service is its own binary (`src/bin/*.rs`), as it would be deployed, and uses the
//! three macros the way a service author would: `#[counted]` and `#[traced]` on its work,
//! `#[health_check]` on its dependencies. The `platform` binary starts all seven on
//! 127.0.0.1 and an embedded event broker, and stops them on Ctrl-C.
//!
//! What the services share lives here: where each one listens ([`service`]), the event bus
//! client ([`bus`]) and the embedded broker ([`broker`]).

pub mod broker;
pub mod bus;
pub mod service;
