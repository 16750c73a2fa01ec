//! The HTTP families as a `prometheus` collector: every route's series, read from their
//! per-thread rows at a scrape.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

use super::cells::{RouteCells, Which};
use super::series::Series;
use crate::metrics::collector::{desc, family, pair};

/// The HTTP families of every route, read from their per-thread rows at a scrape.
#[derive(Debug)]
pub(super) struct Families {
    series: Series,
    /// `http_requests_total`, the three histograms, `http_requests_in_flight`.
    descs: [Desc; 5],
}

impl Families {
    pub(super) fn new(series: Series) -> prometheus::Result<Self> {
        use crate::metrics::names;
        let route = ["method", "route"];
        Ok(Families {
            series,
            descs: [
                desc(
                    names::HTTP_REQUESTS_TOTAL,
                    "HTTP requests by method, route and status",
                    &["method", "route", "status"],
                )?,
                desc(
                    names::HTTP_REQUEST_DURATION_SECONDS,
                    "HTTP request duration",
                    &route,
                )?,
                desc(
                    names::HTTP_REQUEST_SIZE_BYTES,
                    "HTTP request body size",
                    &route,
                )?,
                desc(
                    names::HTTP_RESPONSE_SIZE_BYTES,
                    "HTTP response body size",
                    &route,
                )?,
                desc(
                    names::HTTP_REQUESTS_IN_FLIGHT,
                    "HTTP requests being served",
                    &[],
                )?,
            ],
        })
    }
}

impl Collector for Families {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut requests = family(&self.descs[0], MetricType::COUNTER);
        for ((method, route), route_series) in series.iter() {
            for (status, count) in route_series.statuses() {
                let mut counter = proto::Counter::default();
                counter.set_value(count as f64);
                let mut metric = proto::Metric::default();
                metric.set_label(vec![
                    pair("method", method),
                    pair("route", route),
                    pair("status", &status),
                ]);
                metric.set_counter(counter);
                requests.mut_metric().push(metric);
            }
        }
        let histograms = [Which::Duration, Which::RequestSize, Which::ResponseSize]
            .into_iter()
            .zip(&self.descs[1..4])
            .map(|(which, desc)| {
                let mut family = family(desc, MetricType::HISTOGRAM);
                for ((method, route), route_series) in series.iter() {
                    family
                        .mut_metric()
                        .push(histogram(method, route, which, &route_series.cells));
                }
                family
            });
        // Always there, as a gauge is: 0 before the first request.
        let mut in_flight = family(&self.descs[4], MetricType::GAUGE);
        let mut gauge = proto::Gauge::default();
        gauge.set_value(series.values().map(|s| s.cells.in_flight()).sum::<i64>() as f64);
        let mut metric = proto::Metric::default();
        metric.set_gauge(gauge);
        in_flight.mut_metric().push(metric);
        std::iter::once(requests)
            .chain(histograms)
            .filter(|family| !family.get_metric().is_empty())
            .chain(std::iter::once(in_flight))
            .collect()
    }
}

/// One route's histogram of `which` as the exposition reads it.
fn histogram(method: &str, route: &str, which: Which, cells: &RouteCells) -> proto::Metric {
    let mut metric = proto::Metric::default();
    metric.set_label(vec![pair("method", method), pair("route", route)]);
    metric.set_histogram(cells.snapshot(which).to_proto());
    metric
}
