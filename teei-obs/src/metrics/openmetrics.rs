//! The OpenMetrics 1.0 text exposition of the same metric families as the classic format,
//! with exemplars on histogram buckets and counters.
//!
//! Written here, not by a crate: the `prometheus` crate has no exemplars, and
//! `prometheus-client` (the Prometheus project's Rust client) writes them only for its own
//! metric types — its `Exemplar` has no public constructor, and its
//! `HistogramWithExemplars` takes a write lock on every observation, which the
//! `#[counted(duration)]` hot path must not. The writer below is checked by `promtool check
//! metrics` and by a real Prometheus storing the exemplars (`tests/tests/openmetrics.rs`).

use std::fmt::Write as _;

use prometheus::proto::{LabelPair, MetricFamily, MetricType};

use super::exemplar::Exemplar;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header asks for OpenMetrics (Prometheus asks so first when it scrapes
/// with exemplar storage, or by default in recent releases).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let kind = params.next().unwrap_or_default();
            let quality = params
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            kind.eq_ignore_ascii_case("application/openmetrics-text") && quality > 0.0
        })
    })
}

/// Finds the exemplar of a sample: family name, the sample's labels, and the bucket
/// index for a histogram (`None` for a counter).
pub(crate) type Exemplars<'a> = &'a dyn Fn(&str, &[LabelPair], Option<usize>) -> Option<Exemplar>;

/// `families` in the OpenMetrics text format, ending with `# EOF`.
pub(crate) fn encode(families: &[MetricFamily], exemplars: Exemplars<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for family in families {
        let name = family.name();
        let (kind, base) = match family.get_field_type() {
            MetricType::COUNTER => match name.strip_suffix("_total") {
                Some(base) => ("counter", base),
                // A counter whose name breaks the convention is still exposed, untyped.
                None => ("unknown", name),
            },
            MetricType::GAUGE => ("gauge", name),
            MetricType::HISTOGRAM => ("histogram", name),
            MetricType::SUMMARY => ("summary", name),
            MetricType::UNTYPED => ("unknown", name),
        };
        let _ = writeln!(out, "# TYPE {base} {kind}");
        if !family.help().is_empty() {
            let _ = writeln!(out, "# HELP {base} {}", escape(family.help(), false));
        }
        for metric in family.get_metric() {
            let labels = metric.get_label();
            match family.get_field_type() {
                single @ (MetricType::COUNTER | MetricType::GAUGE | MetricType::UNTYPED) => {
                    let value = match single {
                        MetricType::COUNTER => metric.get_counter().get_value(),
                        MetricType::GAUGE => metric.get_gauge().get_value(),
                        // The protobuf type the crate reads untyped values into.
                        #[allow(deprecated)]
                        _ => metric.get_untyped().get_value(),
                    };
                    sample(&mut out, name, labels, None, value);
                    // Only a counter named by the convention carries an exemplar.
                    if single == MetricType::COUNTER
                        && base != name
                        && let Some(exemplar) = exemplars(name, labels, None)
                    {
                        write_exemplar(&mut out, &exemplar);
                    }
                    out.push('\n');
                }
                MetricType::HISTOGRAM => {
                    histogram_samples(&mut out, name, labels, metric.get_histogram(), exemplars);
                }
                MetricType::SUMMARY => {
                    summary_samples(&mut out, name, labels, metric.get_summary())
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// A histogram's `_bucket` samples (with `+Inf` when the client left it out), each with its
/// exemplar, then `_count` and `_sum`.
fn histogram_samples(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    histogram: &prometheus::proto::Histogram,
    exemplars: Exemplars<'_>,
) {
    let bucket_name = format!("{name}_bucket");
    let mut has_inf = false;
    for (index, bucket) in histogram.get_bucket().iter().enumerate() {
        let bound = bucket.upper_bound();
        has_inf |= bound == f64::INFINITY;
        let le = number(bound);
        sample(
            out,
            &bucket_name,
            labels,
            Some(("le", &le)),
            bucket.cumulative_count() as f64,
        );
        if let Some(exemplar) = exemplars(name, labels, Some(index)) {
            write_exemplar(out, &exemplar);
        }
        out.push('\n');
    }
    if !has_inf {
        let index = histogram.get_bucket().len();
        sample(
            out,
            &bucket_name,
            labels,
            Some(("le", "+Inf")),
            histogram.get_sample_count() as f64,
        );
        if let Some(exemplar) = exemplars(name, labels, Some(index)) {
            write_exemplar(out, &exemplar);
        }
        out.push('\n');
    }
    count_and_sum(
        out,
        name,
        labels,
        histogram.get_sample_count(),
        histogram.get_sample_sum(),
    );
}

/// A summary's quantile samples, then `_count` and `_sum`.
fn summary_samples(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    summary: &prometheus::proto::Summary,
) {
    for quantile in summary.get_quantile() {
        let q = number(quantile.quantile());
        sample(out, name, labels, Some(("quantile", &q)), quantile.value());
        out.push('\n');
    }
    count_and_sum(
        out,
        name,
        labels,
        summary.sample_count(),
        summary.sample_sum(),
    );
}

/// `name{labels,extra} value`, without the line end (an exemplar may follow).
fn sample(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        let mut first = true;
        let pairs = labels
            .iter()
            .map(|pair| (pair.name(), pair.value()))
            .chain(extra);
        for (label, value) in pairs {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{label}=\"{}\"", escape(value, true));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&number(value));
}

/// The `_count` and `_sum` lines of a histogram or summary.
fn count_and_sum(out: &mut String, name: &str, labels: &[LabelPair], count: u64, sum: f64) {
    sample(out, &format!("{name}_count"), labels, None, count as f64);
    out.push('\n');
    sample(out, &format!("{name}_sum"), labels, None, sum);
    out.push('\n');
}

fn write_exemplar(out: &mut String, exemplar: &Exemplar) {
    let _ = write!(
        out,
        " # {{trace_id=\"{:032x}\",span_id=\"{:016x}\"}} {} {:.3}",
        exemplar.trace_id,
        exemplar.span_id,
        number(exemplar.value),
        exemplar.timestamp
    );
}

/// A number as OpenMetrics spells it.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{value}")
    }
}

/// Escapes `\`, new lines and (in label values) `"`.
fn escape(text: &str, quotes: bool) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\\', '\n', '"']) {
        return text.into();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if quotes => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_are_negotiated() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(wants_openmetrics(Some(prometheus)));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(!wants_openmetrics(Some("application/openmetrics-text;q=0")));
        assert!(!wants_openmetrics(None));
    }

    #[test]
    fn counters_gauges_and_histograms_with_exemplars_end_with_eof() {
        let registry = prometheus::Registry::new();
        let counter = prometheus::IntCounterVec::new(
            prometheus::Opts::new("jobs_total", "Jobs \"done\"\nby queue"),
            &["queue"],
        )
        .unwrap();
        counter.with_label_values(&["a\"b"]).inc_by(3);
        let histogram = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new("wait_seconds", "Waits").buckets(vec![0.1, 1.0]),
        )
        .unwrap();
        histogram.observe(0.5);
        registry.register(Box::new(counter)).unwrap();
        registry.register(Box::new(histogram)).unwrap();
        let exemplar = Exemplar {
            trace_id: 0xab,
            span_id: 0xcd,
            value: 0.5,
            timestamp: 1_700_000_000.25,
        };
        let text = encode(&registry.gather(), &|family, _, bucket| {
            (family == "wait_seconds" && bucket == Some(1)).then_some(exemplar)
        });
        assert_eq!(
            text,
            "# TYPE jobs counter\n\
             # HELP jobs Jobs \"done\"\\nby queue\n\
             jobs_total{queue=\"a\\\"b\"} 3\n\
             # TYPE wait_seconds histogram\n\
             # HELP wait_seconds Waits\n\
             wait_seconds_bucket{le=\"0.1\"} 0\n\
             wait_seconds_bucket{le=\"1\"} 1 # {trace_id=\"000000000000000000000000000000ab\",span_id=\"00000000000000cd\"} 0.5 1700000000.250\n\
             wait_seconds_bucket{le=\"+Inf\"} 1\n\
             wait_seconds_count 1\n\
             wait_seconds_sum 0.5\n\
             # EOF\n"
        );
    }
}
