//! Reading and validating the OpenTelemetry environment variables: every value either
//! parses or becomes an error naming its variable.

use std::time::Duration;

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
    pub(super) fn first(&self, names: [&'static str; 2]) -> Option<(&'static str, String)> {
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
pub(super) fn percent_decode(raw: &str) -> Option<String> {
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
