//! The Prometheus view of every counted function.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

use super::function::Outcome;
use crate::registry::FunctionEntry;

const CALLS: &str = crate::metrics::names::FUNCTION_CALLS_TOTAL;
const DURATION: &str = crate::metrics::names::FUNCTION_CALLS_DURATION_SECONDS;
const CONCURRENT: &str = crate::metrics::names::FUNCTION_CALLS_CONCURRENT;

/// A [`prometheus`] collector over the registry's counted functions.
///
/// [`init`](crate::init) registers one in the handle's registry; a service with its own
/// `prometheus::Registry` can register another there.
#[derive(Debug)]
pub struct FunctionCollector {
    entries: Vec<&'static FunctionEntry>,
    descs: Vec<Desc>,
}

impl FunctionCollector {
    /// A collector over `entries`.
    pub fn new(entries: Vec<&'static FunctionEntry>) -> prometheus::Result<Self> {
        let descs = vec![
            desc(
                CALLS,
                "Calls of #[counted] functions by result",
                &["function", "module", "result"],
            )?,
            desc(
                DURATION,
                "Duration of #[counted(duration)] functions in seconds",
                &["function", "module"],
            )?,
            desc(
                CONCURRENT,
                "Calls in progress of #[counted(concurrent)] functions",
                &["function", "module"],
            )?,
        ];
        Ok(FunctionCollector { entries, descs })
    }
}

impl FunctionCollector {
    /// The exemplar of a sample of `function_calls_total` (by its `result`) or of bucket
    /// `bucket` of `function_calls_duration_seconds`: a recent call in a sampled span.
    pub fn exemplar(
        &self,
        family: &str,
        labels: &[proto::LabelPair],
        bucket: Option<usize>,
    ) -> Option<super::exemplar::Exemplar> {
        let label = |name| super::exemplar::label(labels, name);
        let (function, module) = (label("function")?, label("module")?);
        // A function both counted and traced has two entries; the counted one has metrics.
        let metrics = self
            .entries
            .iter()
            .filter(|entry| entry.name() == function && entry.module() == module)
            .find_map(|entry| entry.metrics())?;
        match (family, bucket) {
            (CALLS, None) => {
                let result = label("result")?;
                let outcome = Outcome::ALL.into_iter().find(|o| o.as_str() == result)?;
                metrics.exemplar(outcome)
            }
            (DURATION, Some(bucket)) => metrics.duration_exemplar(bucket),
            _ => None,
        }
    }
}

/// The description of a family `name` with variable labels `labels`.
pub(crate) fn desc(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<Desc> {
    Desc::new(
        name.to_owned(),
        help.to_owned(),
        labels.iter().map(|label| (*label).to_owned()).collect(),
        Default::default(),
    )
}

/// An empty family described by `desc`.
pub(crate) fn family(desc: &Desc, kind: MetricType) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(desc.fq_name.clone());
    family.set_help(desc.help.clone());
    family.set_field_type(kind);
    family
}

/// A label.
pub(crate) fn pair(name: &str, value: &str) -> proto::LabelPair {
    let mut pair = proto::LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

/// A share as autometrics' `objective_percentile` spells it: `0.999` is `99.9`.
fn percentile(share: f64) -> String {
    format!("{}", (share * 1000.0).round() / 10.0)
}

/// The objective labels autometrics' SLO rules read, after the others: the success
/// objective on the call counter, the latency one on the histogram. Named after the
/// function (`#[counted]` objectives have no name of their own).
fn objective_labels(entry: &FunctionEntry, labels: &mut Vec<proto::LabelPair>, latency: bool) {
    let Some(objective) = entry.metrics().and_then(|m| m.objective()) else {
        return;
    };
    if latency {
        if let Some((threshold, share)) = objective.latency() {
            labels.push(pair("objective_latency_threshold", &format!("{threshold}")));
            labels.push(pair("objective_name", entry.name()));
            labels.push(pair("objective_percentile", &percentile(share)));
        }
    } else if let Some(share) = objective.success() {
        labels.push(pair("objective_name", entry.name()));
        labels.push(pair("objective_percentile", &percentile(share)));
    }
}

/// A series of `entry`, with its `result` and, for `objective` (`Some(latency?)`), the
/// objective labels.
fn labelled(
    entry: &FunctionEntry,
    result: Option<Outcome>,
    objective: Option<bool>,
) -> proto::Metric {
    let mut labels = vec![
        pair("function", entry.name()),
        pair("module", entry.module()),
    ];
    if let Some(result) = result {
        labels.push(pair("result", result.as_str()));
    }
    if let Some(latency) = objective {
        objective_labels(entry, &mut labels, latency);
    }
    let mut metric = proto::Metric::default();
    metric.set_label(labels);
    metric
}

impl Collector for FunctionCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut calls = family(&self.descs[0], MetricType::COUNTER);
        let mut duration = family(&self.descs[1], MetricType::HISTOGRAM);
        let mut concurrent = family(&self.descs[2], MetricType::GAUGE);
        for entry in &self.entries {
            let Some(metrics) = entry.metrics() else {
                continue;
            };
            for outcome in Outcome::ALL {
                let mut metric = labelled(entry, Some(outcome), Some(false));
                let mut counter = proto::Counter::default();
                counter.set_value(metrics.calls(outcome) as f64);
                metric.set_counter(counter);
                calls.mut_metric().push(metric);
            }
            if let Some(snapshot) = metrics.histogram() {
                let mut metric = labelled(entry, None, Some(true));
                metric.set_histogram(snapshot.to_proto());
                duration.mut_metric().push(metric);
            }
            if let Some(value) = metrics.concurrent() {
                let mut gauge = proto::Gauge::default();
                gauge.set_value(value as f64);
                let mut metric = labelled(entry, None, None);
                metric.set_gauge(gauge);
                concurrent.mut_metric().push(metric);
            }
        }
        [calls, duration, concurrent]
            .into_iter()
            .filter(|family| !family.get_metric().is_empty())
            .collect()
    }
}

impl super::HistogramSnapshot {
    /// The snapshot as the exposition's protobuf histogram.
    pub(crate) fn to_proto(&self) -> proto::Histogram {
        let mut histogram = proto::Histogram::default();
        histogram.set_sample_count(self.count);
        histogram.set_sample_sum(self.sum);
        histogram.set_bucket(
            self.buckets
                .iter()
                .map(|&(bound, count)| {
                    let mut bucket = proto::Bucket::default();
                    bucket.set_upper_bound(bound);
                    bucket.set_cumulative_count(count);
                    bucket
                })
                .collect(),
        );
        histogram
    }
}
