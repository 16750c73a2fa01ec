//! The HTTP side: routes a service mounts on its axum router — `/metrics`
//! ([`metrics_router`]; the OpenMetrics negotiation in `exposition`), the request layer
//! ([`RequestLayer`], in `layer`) with its metric families ([`HttpMetrics`], in `metrics`:
//! each route's series in per-thread rows, `cells` and `series`, read by the collector in
//! `families`), bodies counted as they flow (`body`) and connections counted as they open
//! and close ([`CountedListener`], in `listener`).

mod body;
mod cells;
mod exposition;
mod families;
mod layer;
mod listener;
mod metrics;
mod series;

pub(crate) use exposition::Exposition;
pub use exposition::metrics_router;
pub use layer::{RequestLayer, RequestService, ResponseFuture};
pub use listener::{CountedIo, CountedListener};
pub use metrics::HttpMetrics;
