//! Head sampling as OpenTelemetry specifies it, decided when a span starts.

use std::fmt;

/// Which new traces are recorded and exported.
///
/// Read from `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` with the values the
/// OpenTelemetry specification lists; the ratio test on the trace ID is the SDK's, so a
/// trace is sampled the same way in every service that uses the same ratio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    /// Record every span.
    AlwaysOn,
    /// Record nothing.
    AlwaysOff,
    /// Record a fraction of traces, decided by the trace ID alone.
    TraceIdRatio(f64),
    /// Follow the parent's decision; roots use the inner sampler.
    ParentBased(Root),
}

/// The decision for root spans of [`Sampler::ParentBased`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Root {
    /// Every root is sampled.
    AlwaysOn,
    /// No root is sampled.
    AlwaysOff,
    /// A fraction of roots, by trace ID.
    TraceIdRatio(f64),
}

/// Why a sampler setting was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplerError {
    pub(crate) variable: &'static str,
    pub(crate) value: String,
    pub(crate) expected: &'static str,
}

impl fmt::Display for SamplerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value {:?} for {}: expected {}",
            self.value, self.variable, self.expected
        )
    }
}

const SAMPLERS: &str = "one of always_on, always_off, traceidratio, parentbased_always_on, \
                        parentbased_always_off, parentbased_traceidratio";

impl Sampler {
    /// The default: parent-based, 10 % of new traces in production, all elsewhere.
    pub fn default_for(production: bool) -> Sampler {
        Sampler::ParentBased(if production {
            Root::TraceIdRatio(0.1)
        } else {
            Root::AlwaysOn
        })
    }

    /// Parses `OTEL_TRACES_SAMPLER` and its argument; `None` for the default.
    pub fn parse(sampler: &str, arg: Option<&str>) -> Result<Sampler, SamplerError> {
        let ratio = || -> Result<f64, SamplerError> {
            match arg {
                None => Ok(1.0),
                Some(text) => text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|ratio| (0.0..=1.0).contains(ratio))
                    .ok_or_else(|| SamplerError {
                        variable: "OTEL_TRACES_SAMPLER_ARG",
                        value: text.to_owned(),
                        expected: "a number from 0 to 1",
                    }),
            }
        };
        Ok(match sampler.trim() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(ratio()?),
            "parentbased_always_on" => Sampler::ParentBased(Root::AlwaysOn),
            "parentbased_always_off" => Sampler::ParentBased(Root::AlwaysOff),
            "parentbased_traceidratio" => Sampler::ParentBased(Root::TraceIdRatio(ratio()?)),
            other => {
                return Err(SamplerError {
                    variable: "OTEL_TRACES_SAMPLER",
                    value: other.to_owned(),
                    expected: SAMPLERS,
                });
            }
        })
    }

    /// Whether a span with this trace ID and parent decision is sampled.
    #[inline]
    pub fn should_sample(&self, trace_id: u128, parent_sampled: Option<bool>) -> bool {
        match (*self, parent_sampled) {
            (Sampler::AlwaysOn, _) => true,
            (Sampler::AlwaysOff, _) => false,
            (Sampler::TraceIdRatio(ratio), _) => ratio_sampled(ratio, trace_id),
            (Sampler::ParentBased(_), Some(parent)) => parent,
            (Sampler::ParentBased(Root::AlwaysOn), None) => true,
            (Sampler::ParentBased(Root::AlwaysOff), None) => false,
            (Sampler::ParentBased(Root::TraceIdRatio(ratio)), None) => {
                ratio_sampled(ratio, trace_id)
            }
        }
    }
}

/// The OpenTelemetry SDK's test: the trace ID's low 64 bits, shifted right by one, below
/// `ratio × 2^63`.
fn ratio_sampled(ratio: f64, trace_id: u128) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    ((trace_id as u64) >> 1) < bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_specified_sampler_name_parses() {
        assert_eq!(Sampler::parse("always_on", None), Ok(Sampler::AlwaysOn));
        assert_eq!(
            Sampler::parse("parentbased_traceidratio", Some("0.25")),
            Ok(Sampler::ParentBased(Root::TraceIdRatio(0.25)))
        );
        assert_eq!(
            Sampler::parse("traceidratio", None),
            Ok(Sampler::TraceIdRatio(1.0))
        );
    }

    #[test]
    fn invalid_values_name_the_variable_and_the_accepted_values() {
        let error = Sampler::parse("sometimes", None).unwrap_err().to_string();
        assert!(error.contains("OTEL_TRACES_SAMPLER") && error.contains("parentbased_always_on"));
        for arg in ["1.5", "-0.1", "half", "NaN"] {
            let error = Sampler::parse("traceidratio", Some(arg)).unwrap_err();
            assert_eq!(error.variable, "OTEL_TRACES_SAMPLER_ARG", "{arg}");
        }
    }

    #[test]
    fn parent_based_follows_the_parent_and_ratio_decides_roots() {
        let sampler = Sampler::ParentBased(Root::TraceIdRatio(0.0));
        assert!(sampler.should_sample(42, Some(true)));
        assert!(!sampler.should_sample(42, None));
        assert!(!Sampler::ParentBased(Root::AlwaysOn).should_sample(1, Some(false)));
    }
}
