//! The functions view: every registered function's calls, rate, error ratio and quantiles.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Console;
use crate::metrics::Outcome;

/// Calls per function at the moments the functions view was asked for, over the last
/// minute: the call rate is the difference over the window, with no timer of its own.
#[derive(Debug)]
pub(super) struct RateWindow {
    started: Instant,
    samples: VecDeque<(Instant, HashMap<String, u64>)>,
}

impl Default for RateWindow {
    fn default() -> Self {
        RateWindow {
            started: Instant::now(),
            samples: VecDeque::new(),
        }
    }
}

const RATE_WINDOW: Duration = Duration::from_secs(60);

impl RateWindow {
    /// Calls per second of each function, over the last minute (since the console started
    /// when it is younger), after recording `now`'s totals.
    fn rates(&mut self, totals: &HashMap<String, u64>) -> HashMap<String, f64> {
        let now = Instant::now();
        while self.samples.len() > 1
            && self
                .samples
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (since, before) = match self.samples.front() {
            Some((at, before)) if now.duration_since(*at) >= Duration::from_secs(1) => {
                (*at, Some(before))
            }
            _ => (self.started, None),
        };
        let seconds = now.duration_since(since).as_secs_f64().max(1e-3);
        let rates = totals
            .iter()
            .map(|(key, total)| {
                let base = before.and_then(|b| b.get(key)).copied().unwrap_or(0);
                (key.clone(), total.saturating_sub(base) as f64 / seconds)
            })
            .collect();
        if self.samples.len() >= 256 {
            self.samples.pop_front();
        }
        self.samples.push_back((now, totals.clone()));
        rates
    }
}

/// The `q`-quantile of a cumulative histogram, interpolated inside its bucket as
/// Prometheus' `histogram_quantile` does; `None` without observations.
fn quantile(q: f64, snapshot: &crate::metrics::HistogramSnapshot) -> Option<f64> {
    if snapshot.count == 0 {
        return None;
    }
    let rank = q * snapshot.count as f64;
    let mut lower = (0.0, 0u64);
    for &(bound, cumulative) in &snapshot.buckets {
        if cumulative as f64 >= rank {
            let in_bucket = (cumulative - lower.1) as f64;
            let share = if in_bucket > 0.0 {
                (rank - lower.1 as f64) / in_bucket
            } else {
                0.0
            };
            return Some(lower.0 + (bound - lower.0) * share);
        }
        lower = (bound, cumulative);
    }
    // In the +Inf bucket: the highest finite bound, as Prometheus answers.
    Some(lower.0)
}

pub(super) fn functions_view(console: &Console) -> Vec<Value> {
    // A function both counted and traced has two entries: one row.
    let mut rows: BTreeMap<(String, String), Value> = BTreeMap::new();
    for entry in crate::registry::functions() {
        let key = (entry.module().to_owned(), entry.name().to_owned());
        let location = entry.location();
        let row = rows.entry(key).or_insert_with(|| {
            json!({
                "service": console.inner.service,
                "name": entry.name(),
                "module": entry.module(),
                "location": format!("{}:{}", location.file, location.line),
                "counted": false,
                "traced": false,
                "span_name": Value::Null,
                "calls": 0, "errors": 0, "panics": 0, "cancelled": 0,
                "error_ratio": Value::Null, "rate_per_s": 0.0,
                "p50_ms": Value::Null, "p95_ms": Value::Null, "p99_ms": Value::Null,
            })
        });
        if let Some(traced) = entry.traced() {
            row["traced"] = json!(true);
            row["span_name"] = json!(traced.span_name());
        }
        if let Some(metrics) = entry.metrics() {
            let calls: u64 = Outcome::ALL.iter().map(|o| metrics.calls(*o)).sum();
            let errors = metrics.calls(Outcome::Error);
            let panics = metrics.calls(Outcome::Panic);
            row["counted"] = json!(true);
            row["calls"] = json!(calls);
            row["errors"] = json!(errors);
            row["panics"] = json!(panics);
            row["cancelled"] = json!(metrics.calls(Outcome::Cancelled));
            if calls > 0 {
                row["error_ratio"] = json!((errors + panics) as f64 / calls as f64);
            }
            if let Some(histogram) = metrics.histogram() {
                for (field, q) in [("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
                    row[field] = json!(quantile(q, &histogram).map(|s| s * 1000.0));
                }
            }
        }
    }
    let totals: HashMap<String, u64> = rows
        .iter()
        .map(|((module, name), row)| {
            (
                format!("{module}::{name}"),
                row["calls"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let rates = console
        .inner
        .rates
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .rates(&totals);
    rows.into_iter()
        .map(|((module, name), mut row)| {
            let rate = rates
                .get(&format!("{module}::{name}"))
                .copied()
                .unwrap_or(0.0);
            row["rate_per_s"] = json!(rate);
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HistogramSnapshot;

    #[test]
    fn quantiles_interpolate_inside_the_bucket_as_prometheus_does() {
        let snapshot = HistogramSnapshot {
            buckets: vec![(0.1, 50), (0.2, 100)],
            count: 100,
            sum: 10.0,
        };
        assert!((quantile(0.5, &snapshot).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(0.75, &snapshot).unwrap() - 0.15).abs() < 1e-9);
        let empty = HistogramSnapshot {
            buckets: vec![(0.1, 0)],
            count: 0,
            sum: 0.0,
        };
        assert_eq!(quantile(0.5, &empty), None);
        let beyond = HistogramSnapshot {
            buckets: vec![(0.1, 0)],
            count: 3,
            sum: 3.0,
        };
        assert_eq!(quantile(0.99, &beyond), Some(0.1));
    }

    #[test]
    fn rates_are_taken_over_the_window() {
        let mut window = RateWindow {
            started: Instant::now() - Duration::from_secs(10),
            samples: VecDeque::new(),
        };
        let totals = HashMap::from([("f".to_owned(), 100u64)]);
        let first = window.rates(&totals)["f"];
        assert!((9.0..=10.1).contains(&first), "{first}");
        // A sample a second old: the next rate is over that second.
        window.samples[0].0 -= Duration::from_secs(2);
        let totals = HashMap::from([("f".to_owned(), 120u64)]);
        let second = window.rates(&totals)["f"];
        assert!((9.0..=10.1).contains(&second), "{second}");
    }
}
