//! `http::HeaderMap` as a propagation carrier: reading a request's headers (all of them, or
//! the five propagation reads, found in one pass) and writing an outgoing one's.

use opentelemetry::propagation::{Extractor, Injector};

use super::context::{CAUSATION_HEADER, CORRELATION_HEADER};

/// The header names the propagation reads, parsed once: a lookup by `&str` parses the name
/// on every request.
static KNOWN_HEADERS: [http::HeaderName; 5] = [
    http::HeaderName::from_static("traceparent"),
    http::HeaderName::from_static("tracestate"),
    http::HeaderName::from_static("baggage"),
    http::HeaderName::from_static(CORRELATION_HEADER),
    http::HeaderName::from_static(CAUSATION_HEADER),
];

/// `x-correlation-id` as a parsed header name.
pub(crate) fn correlation_header() -> &'static http::HeaderName {
    &KNOWN_HEADERS[3]
}

/// `http::HeaderMap` as a propagation carrier.
#[derive(Debug)]
pub struct HeaderCarrier<'a, T>(pub &'a mut T);

impl Injector for HeaderCarrier<'_, http::HeaderMap> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads headers from an `http::HeaderMap`.
#[derive(Debug)]
pub struct HeaderReader<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let known = match key {
            "traceparent" => Some(&KNOWN_HEADERS[0]),
            "tracestate" => Some(&KNOWN_HEADERS[1]),
            "baggage" => Some(&KNOWN_HEADERS[2]),
            CORRELATION_HEADER => Some(&KNOWN_HEADERS[3]),
            CAUSATION_HEADER => Some(&KNOWN_HEADERS[4]),
            _ => None,
        };
        let value = match known {
            Some(name) => self.0.get(name),
            None => self.0.get(key),
        };
        value.and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// A request's headers, with the five that propagation reads found in one pass: a header
/// map finds a name by hashing it, and five hashed lookups of names that are mostly absent
/// cost more than one walk over the few headers a request has. Other names (B3) and
/// repeated known ones are looked up in the map.
pub(crate) struct ScannedHeaders<'a> {
    map: HeaderReader<'a>,
    /// The first value of each of [`KNOWN_HEADERS`], in its order.
    pub(crate) found: [Option<&'a http::HeaderValue>; 5],
    /// Which of them came more than once (bit per index).
    repeated: u8,
}

impl<'a> ScannedHeaders<'a> {
    pub(crate) fn scan(map: &'a http::HeaderMap) -> Self {
        let mut scanned = ScannedHeaders {
            map: HeaderReader(map),
            found: [None; 5],
            repeated: 0,
        };
        for (name, value) in map {
            if let Some(index) = known_index(name.as_str()) {
                match scanned.found[index] {
                    None => scanned.found[index] = Some(value),
                    Some(_) => scanned.repeated |= 1 << index,
                }
            }
        }
        scanned
    }
}

/// The index in [`KNOWN_HEADERS`] of a lower-case header name.
fn known_index(name: &str) -> Option<usize> {
    // Most names are ruled out by their length alone.
    match name.len() {
        11 if name == "traceparent" => Some(0),
        10 if name == "tracestate" => Some(1),
        7 if name == "baggage" => Some(2),
        16 if name == CORRELATION_HEADER => Some(3),
        14 if name == CAUSATION_HEADER => Some(4),
        _ => None,
    }
}

impl Extractor for ScannedHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match known_index(key) {
            Some(index) => self.found[index].and_then(|value| value.to_str().ok()),
            None => self.map.get(key),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.map.keys()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        match known_index(key) {
            Some(index) if self.repeated & (1 << index) == 0 => self.found[index]
                .and_then(|value| value.to_str().ok())
                .map(|value| vec![value]),
            _ => self.map.get_all(key),
        }
    }
}
