//! What the console holds: the latest traces and log lines, each in a bounded ring, every
//! text redacted on the way in.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

use crate::redact::Redactor;

/// How much the console keeps in memory.
///
/// The defaults hold 200 traces of up to 200 spans each and 1,000 log lines; a trace that
/// goes past its span limit keeps its first spans and counts the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleLimits {
    /// Traces kept; the oldest goes when a new one arrives.
    pub traces: usize,
    /// Spans kept of one trace.
    pub spans_per_trace: usize,
    /// Log lines kept; the oldest goes first.
    pub logs: usize,
}

impl Default for ConsoleLimits {
    fn default() -> Self {
        ConsoleLimits {
            traces: 200,
            spans_per_trace: 200,
            logs: 1000,
        }
    }
}

/// Longest text kept of one value; the rest is cut (and says so).
pub(crate) const MAX_TEXT: usize = 2048;
/// Attributes kept of one span.
pub(crate) const MAX_ATTRIBUTES: usize = 64;
/// Events kept of one span.
pub(crate) const MAX_EVENTS: usize = 32;

/// One span, as the console shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ConsoleSpan {
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    /// Empty for a root span.
    pub(crate) parent_id: String,
    pub(crate) name: String,
    pub(crate) service: String,
    pub(crate) kind: &'static str,
    pub(crate) start_unix_nano: u64,
    pub(crate) end_unix_nano: u64,
    /// `unset`, `ok` or `error`.
    pub(crate) status: &'static str,
    pub(crate) status_message: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) events: Vec<ConsoleEvent>,
}

/// A span event.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ConsoleEvent {
    pub(crate) name: String,
    pub(crate) time_unix_nano: u64,
    pub(crate) attributes: Vec<(String, String)>,
}

impl ConsoleSpan {
    pub(crate) fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every text passed through `redactor` and cut to its bound: names, attribute values
    /// (whole, under a sensitive key), events, the status message.
    pub(crate) fn redacted(mut self, redactor: &Redactor) -> Self {
        self.name = bounded(redactor, &self.name);
        self.status_message = bounded(redactor, &self.status_message);
        redact_attributes(redactor, &mut self.attributes);
        self.events.truncate(MAX_EVENTS);
        for event in &mut self.events {
            event.name = bounded(redactor, &event.name);
            redact_attributes(redactor, &mut event.attributes);
        }
        self
    }

    /// [`ConsoleSpan::redacted`] for a span this process recorded: its attributes passed
    /// the same `redactor` when they were recorded (`trace::recorder`, `trace::global`), so
    /// they are only cut to their bounds here (the second pass was three quarters of the export
    /// thread's work: 13,100 → 3,400 instructions per span); its name, status message and
    /// events are redacted as any span's.
    pub(crate) fn recorded_here(mut self, redactor: &Redactor) -> Self {
        let attributes = std::mem::take(&mut self.attributes);
        let mut span = self.redacted(redactor);
        span.attributes = attributes;
        span.attributes.truncate(MAX_ATTRIBUTES);
        for (_, value) in &mut span.attributes {
            if value.len() > MAX_TEXT {
                *value = cut(value);
            }
        }
        span
    }
}

fn redact_attributes(redactor: &Redactor, attributes: &mut Vec<(String, String)>) {
    attributes.truncate(MAX_ATTRIBUTES);
    for (key, value) in attributes {
        *value = if redactor.is_sensitive_key(key) {
            crate::redact::REDACTED.to_owned()
        } else {
            bounded(redactor, value)
        };
    }
}

/// `text` redacted and cut to [`MAX_TEXT`] bytes (at a character boundary).
pub(crate) fn bounded(redactor: &Redactor, text: &str) -> String {
    let text = redactor.redact_text(text);
    if text.len() <= MAX_TEXT {
        return text.into_owned();
    }
    cut(&text)
}

/// `text` cut to [`MAX_TEXT`] bytes (at a character boundary), saying so.
fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [cut]", &text[..end])
}

/// One trace: its spans in arrival order.
#[derive(Debug, Default)]
pub(crate) struct StoredTrace {
    pub(crate) spans: Vec<ConsoleSpan>,
    /// Spans past the limit, counted and dropped.
    pub(crate) dropped: usize,
}

impl StoredTrace {
    /// The trace's root: the span without a parent among those held, earliest first.
    pub(crate) fn root(&self) -> Option<&ConsoleSpan> {
        let held = |id: &str| self.spans.iter().any(|s| s.span_id == id);
        self.spans
            .iter()
            .filter(|s| s.parent_id.is_empty() || !held(&s.parent_id))
            .min_by_key(|s| s.start_unix_nano)
    }

    pub(crate) fn start(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.start_unix_nano)
            .min()
            .unwrap_or(0)
    }

    pub(crate) fn end(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.end_unix_nano)
            .max()
            .unwrap_or(0)
    }

    /// The first value of `key` on any span, root first.
    pub(crate) fn attribute(&self, key: &str) -> Option<&str> {
        self.root()
            .and_then(|root| root.attribute(key))
            .or_else(|| self.spans.iter().find_map(|s| s.attribute(key)))
    }
}

/// The latest traces, by trace ID, oldest out first.
#[derive(Debug, Default)]
pub(crate) struct TraceRing {
    order: VecDeque<String>,
    traces: HashMap<String, StoredTrace>,
    dropped_spans: u64,
}

impl TraceRing {
    pub(crate) fn insert(&mut self, span: ConsoleSpan, limits: &ConsoleLimits) {
        if limits.traces == 0 {
            return;
        }
        if !self.traces.contains_key(&span.trace_id) {
            while self.order.len() >= limits.traces {
                if let Some(oldest) = self.order.pop_front() {
                    self.traces.remove(&oldest);
                }
            }
            self.order.push_back(span.trace_id.clone());
        }
        let trace = self.traces.entry(span.trace_id.clone()).or_default();
        if trace.spans.len() >= limits.spans_per_trace {
            trace.dropped += 1;
            self.dropped_spans += 1;
        } else {
            trace.spans.push(span);
        }
    }

    /// The traces held, newest first.
    pub(crate) fn newest_first(&self) -> impl Iterator<Item = (&str, &StoredTrace)> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.traces.get(id).map(|t| (id.as_str(), t)))
    }

    pub(crate) fn get(&self, trace_id: &str) -> Option<&StoredTrace> {
        self.traces.get(trace_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn span_count(&self) -> usize {
        self.traces.values().map(|t| t.spans.len()).sum()
    }

    pub(crate) fn dropped_spans(&self) -> u64 {
        self.dropped_spans
    }
}

/// One log line, as the console shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ConsoleLog {
    pub(crate) time_unix_ms: u64,
    pub(crate) level: String,
    pub(crate) service: String,
    pub(crate) target: String,
    pub(crate) msg: String,
    pub(crate) fields: serde_json::Map<String, Value>,
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    pub(crate) correlation_id: String,
}

/// The latest log lines, oldest out first.
#[derive(Debug, Default)]
pub(crate) struct LogRing {
    pub(crate) lines: VecDeque<ConsoleLog>,
}

impl LogRing {
    pub(crate) fn push(&mut self, line: ConsoleLog, limit: usize) {
        if limit == 0 {
            return;
        }
        while self.lines.len() >= limit {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: &str, id: &str) -> ConsoleSpan {
        ConsoleSpan {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_id: String::new(),
            name: "n".into(),
            service: "s".into(),
            kind: "internal",
            start_unix_nano: 1,
            end_unix_nano: 2,
            status: "unset",
            status_message: String::new(),
            attributes: Vec::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_traces_and_counts_spans_past_the_limit() {
        let limits = ConsoleLimits {
            traces: 2,
            spans_per_trace: 2,
            logs: 1,
        };
        let mut ring = TraceRing::default();
        for (trace, id) in [("a", "1"), ("a", "2"), ("a", "3"), ("b", "1"), ("c", "1")] {
            ring.insert(span(trace, id), &limits);
        }
        let ids: Vec<_> = ring.newest_first().map(|(id, _)| id).collect();
        assert_eq!(ids, ["c", "b"]);
        assert_eq!(ring.dropped_spans(), 1);
        assert_eq!(ring.span_count(), 2);
    }

    #[test]
    fn long_texts_are_cut_and_secrets_redacted() {
        let redactor = Redactor::default();
        let long = "é".repeat(MAX_TEXT);
        assert!(bounded(&redactor, &long).len() <= MAX_TEXT + "… [cut]".len());
        let mut s = span("a", "1");
        s.attributes = vec![
            ("db.password".into(), "hunter2".into()),
            ("note".into(), "mail bob@example.com".into()),
        ];
        let s = s.redacted(&redactor);
        assert_eq!(s.attributes[0].1, crate::redact::REDACTED);
        assert!(!s.attributes[1].1.contains("bob@example.com"));
    }

    #[test]
    fn a_span_recorded_here_keeps_its_attributes_cut_and_its_name_redacted() {
        let redactor = Redactor::default();
        let mut s = span("a", "1");
        s.name = "for bob@example.com".into();
        // Attributes arrive redacted from the recorder: they are only cut here.
        s.attributes = (0..MAX_ATTRIBUTES + 3)
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        s.attributes[0].1 = "x".repeat(MAX_TEXT + 10);
        s.attributes[1].1 = "[REDACTED:email] left as recorded".into();
        let s = s.recorded_here(&redactor);
        assert!(!s.name.contains("bob@example.com"), "{}", s.name);
        assert_eq!(s.attributes.len(), MAX_ATTRIBUTES);
        assert!(s.attributes[0].1.ends_with("… [cut]"));
        assert_eq!(s.attributes[0].1.len(), MAX_TEXT + "… [cut]".len());
        assert_eq!(s.attributes[1].1, "[REDACTED:email] left as recorded");
        assert_eq!(s.attributes[2], ("k2".to_owned(), "v2".to_owned()));
    }
}
