//! Reading and validating the OpenTelemetry environment variables: every value either
//! parses or becomes an error naming its variable.

use std::time::Duration;

use super::{Compression, OtlpTls, PemFile, Propagator, Protocol};
use crate::InitError;

/// The environment as a lookup function; blank values count as unset.
pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

pub(super) fn invalid(variable: &'static str, value: String, expected: &'static str) -> InitError {
    InitError::InvalidEnv {
        variable,
        value,
        expected,
    }
}

impl Env<'_> {
    /// The trimmed value of `name`, `None` when unset or blank.
    pub(super) fn var(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// The first of `names` that is set, with its name.
    fn first(&self, names: [&'static str; 2]) -> Option<(&'static str, String)> {
        names
            .into_iter()
            .find_map(|name| self.var(name).map(|value| (name, value)))
    }

    pub(super) fn boolean(&self, name: &'static str) -> Result<Option<bool>, InitError> {
        self.var(name)
            .map(|value| match value.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(invalid(name, value, "`true` or `false`")),
            })
            .transpose()
    }

    pub(super) fn millis(&self, name: &'static str) -> Result<Option<Duration>, InitError> {
        self.var(name)
            .map(|value| {
                value
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| invalid(name, value, "a whole number of milliseconds"))
            })
            .transpose()
    }

    pub(super) fn count(&self, name: &'static str) -> Result<Option<usize>, InitError> {
        self.var(name)
            .map(|value| {
                value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(name, value, "a whole number above 0"))
            })
            .transpose()
    }

    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs, values percent-decoded.
    pub(super) fn resource_attributes(&self) -> Result<Vec<(String, String)>, InitError> {
        const NAME: &str = "OTEL_RESOURCE_ATTRIBUTES";
        const EXPECTED: &str = "comma-separated key=value pairs with percent-encoded values";
        let Some(value) = self.var(NAME) else {
            return Ok(Vec::new());
        };
        let mut attributes: Vec<(String, String)> = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, raw) = entry
                .split_once('=')
                .ok_or_else(|| invalid(NAME, value.clone(), EXPECTED))?;
            let key = key.trim();
            let decoded = percent_decode(raw.trim());
            match decoded {
                Some(decoded) if !key.is_empty() => {
                    attributes.retain(|(k, _)| k != key);
                    attributes.push((key.to_owned(), decoded));
                }
                _ => return Err(invalid(NAME, value.clone(), EXPECTED)),
            }
        }
        Ok(attributes)
    }

    /// `OTEL_PROPAGATORS`.
    pub(super) fn propagators(&self) -> Result<Option<Vec<Propagator>>, InitError> {
        const NAME: &str = "OTEL_PROPAGATORS";
        const EXPECTED: &str = "a comma-separated list of `tracecontext`, `baggage`, `b3`, \
                                `b3multi`, or `none` alone";
        let Some(value) = self.var(NAME) else {
            return Ok(None);
        };
        let names: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names == ["none"] {
            return Ok(Some(Vec::new()));
        }
        let mut propagators = Vec::new();
        for name in names {
            let propagator = match name {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                _ => return Err(invalid(NAME, value.clone(), EXPECTED)),
            };
            if !propagators.contains(&propagator) {
                propagators.push(propagator);
            }
        }
        Ok(Some(propagators))
    }

    /// `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`; the values never appear in an error.
    pub(super) fn headers(&self) -> Result<Vec<(String, String)>, InitError> {
        let Some((variable, value)) = self.first([
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ]) else {
            return Ok(Vec::new());
        };
        parse_headers(&value).map_err(|problem| InitError::InvalidHeaders { variable, problem })
    }

    /// `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`.
    pub(super) fn compression(&self) -> Result<Compression, InitError> {
        match self.first([
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ]) {
            None => Ok(Compression::None),
            Some((_, value)) if value == "none" => Ok(Compression::None),
            Some((_, value)) if value == "gzip" => Ok(Compression::Gzip),
            Some((variable, value)) => Err(invalid(variable, value, "`gzip` or `none`")),
        }
    }

    /// The certificate files of the `OTEL_EXPORTER_OTLP_*CERTIFICATE` / `*CLIENT_KEY` family.
    pub(super) fn tls(&self) -> OtlpTls {
        let file = |names| {
            self.first(names).map(|(origin, path)| PemFile {
                origin,
                path: path.into(),
            })
        };
        OtlpTls {
            ca: file([
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
            ]),
            client_certificate: file([
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            ]),
            client_key: file([
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            ]),
        }
    }

    /// The OTLP endpoint and protocol, if an endpoint is set (or `otlp` was asked for, which
    /// takes the specification's default endpoint).
    pub(super) fn endpoint(
        &self,
        explicit_otlp: bool,
    ) -> Result<Option<(String, Protocol)>, InitError> {
        let protocol = match self.first([
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]) {
            None => Protocol::HttpProtobuf,
            Some((_, value)) if value == "http/protobuf" => Protocol::HttpProtobuf,
            Some((_, value)) if value == "grpc" => Protocol::Grpc,
            Some((variable, value)) => {
                return Err(invalid(variable, value, "`http/protobuf` or `grpc`"));
            }
        };
        let insecure = match self.boolean("OTEL_EXPORTER_OTLP_TRACES_INSECURE")? {
            Some(insecure) => insecure,
            None => self
                .boolean("OTEL_EXPORTER_OTLP_INSECURE")?
                .unwrap_or(false),
        };
        let (variable, url) = match (
            self.var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            self.var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces),
            (None, Some(base)) => (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                match protocol {
                    Protocol::Grpc => base,
                    Protocol::HttpProtobuf => {
                        format!("{}/v1/traces", base.trim_end_matches('/'))
                    }
                },
            ),
            (None, None) if explicit_otlp => (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                match protocol {
                    Protocol::Grpc => "http://localhost:4317".to_owned(),
                    Protocol::HttpProtobuf => "http://localhost:4318/v1/traces".to_owned(),
                },
            ),
            (None, None) => return Ok(None),
        };
        let url = match protocol {
            // The specification lets a gRPC endpoint be `host:port`, secure unless told not.
            Protocol::Grpc if !url.contains("://") => {
                format!("{}://{url}", if insecure { "http" } else { "https" })
            }
            _ => url,
        };
        if !is_web_url(&url) {
            return Err(invalid(
                variable,
                url,
                "an http:// or https:// URL (for gRPC also host:port)",
            ));
        }
        Ok(Some((url, protocol)))
    }
}

fn is_web_url(url: &str) -> bool {
    url.parse::<http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
    })
}

/// `key=value,…` with percent-encoded values, checked as HTTP header names and values.
pub(crate) fn parse_headers(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for (index, entry) in value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let number = index + 1;
        let Some((key, raw)) = entry.split_once('=') else {
            return Err(format!(
                "entry {number} is not key=value (expected comma-separated key=value pairs)"
            ));
        };
        let key = key.trim().to_ascii_lowercase();
        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(format!(
                "entry {number}: {key:?} is not an HTTP header name (expected key=value pairs)"
            ));
        }
        let Some(decoded) = percent_decode(raw.trim()) else {
            return Err(format!(
                "entry {number} ({key}): the value is not valid percent-encoded UTF-8 \
                 (expected key=value pairs)"
            ));
        };
        if http::HeaderValue::from_str(&decoded).is_err() {
            return Err(format!(
                "entry {number} ({key}): the value holds characters a header cannot carry \
                 (expected key=value pairs)"
            ));
        }
        headers.push((key, decoded));
    }
    Ok(headers)
}

/// Percent-decodes `raw`; `None` when the result is not UTF-8 or an escape is broken.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|b| *b == b'%') {
        let escape = bytes.get(at + offset + 1..at + offset + 3)?;
        if !escape.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        at += offset + 3;
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_decoded_and_their_values_kept_out_of_errors() {
        assert_eq!(
            parse_headers("api-key=s%3Dcret, X-Team = a b ,,").unwrap(),
            [
                ("api-key".to_owned(), "s=cret".to_owned()),
                ("x-team".to_owned(), "a b".to_owned())
            ]
        );
        for bad in [
            "api-key",
            "api key=topsecret",
            "k=%zztopsecret",
            "k=%ff%fetopsecret",
        ] {
            let error = parse_headers(bad).unwrap_err();
            assert!(!error.contains("topsecret"), "{error}");
        }
    }
}
