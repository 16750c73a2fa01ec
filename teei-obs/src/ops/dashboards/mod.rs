//! The dashboards, one module per family, built from what [`Queries`] selects by.

mod database;
mod events;
mod functions;
mod health;
mod http;
mod overview;
mod runtime;

use serde_json::{Value, json};

use super::Generator;
use super::grafana::Board;
#[allow(clippy::wildcard_imports)]
use crate::metrics::names::*;

/// What every dashboard family builds its panels from.
struct Queries<'a> {
    generator: &'a Generator,
    /// The label selector of the service's series (`job="…"`).
    job: String,
    /// The Prometheus datasource every panel references.
    ds: Value,
    service: &'a str,
}

impl<'a> Queries<'a> {
    fn new(generator: &'a Generator) -> Self {
        Queries {
            generator,
            job: generator.sel(""),
            ds: json!({ "type": "prometheus", "uid": generator.datasource_uid }),
            service: &generator.service,
        }
    }

    /// Per-second rate of `metric` over `window`, summed by `by`.
    fn rate(&self, metric: &str, by: &str, window: &str) -> String {
        let job = &self.job;
        format!("sum by ({by}) (rate({metric}{{{job}}}[{window}]))")
    }

    /// Quantile `q` of histogram `metric` over 5 minutes, by `by` as well as `le`.
    fn quantile(&self, q: f64, metric: &str, by: &str) -> String {
        let job = &self.job;
        let by = if by.is_empty() {
            "le".to_owned()
        } else {
            format!("le, {by}")
        };
        format!("histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{{{job}}}[5m])))")
    }

    /// The share of 5xx answers over 5 minutes.
    fn http_errors(&self) -> String {
        let job = &self.job;
        format!(
            "sum(rate({HTTP_REQUESTS_TOTAL}{{{}}}[5m])) / sum(rate({HTTP_REQUESTS_TOTAL}{{{job}}}[5m]))",
            self.generator.sel("status=~\"5..\"")
        )
    }
}

impl Generator {
    /// The dashboards, by file stem.
    pub fn dashboards(&self) -> Vec<(&'static str, Value)> {
        let queries = Queries::new(self);
        vec![
            ("overview", overview::board(&queries)),
            ("http", http::board(&queries)),
            ("database", database::board(&queries)),
            ("events", events::board(&queries)),
            ("runtime", runtime::board(&queries)),
            ("functions", functions::board(&queries)),
            ("health", health::board(&queries)),
        ]
    }
}
