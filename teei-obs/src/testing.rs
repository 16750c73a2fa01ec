#![doc = include_str!("../../docs/testing.md")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{SpanKind, Status};

use crate::metrics::Outcome;
use crate::trace::SpanData;

/// What one test captured. Dropping it restores the thread's previous subscriber.
#[must_use = "the capture ends when it is dropped"]
pub struct Capture {
    _default: tracing::subscriber::DefaultGuard,
    pipeline: Arc<crate::trace::Pipeline>,
    lines: Arc<Mutex<VecDeque<String>>>,
    #[cfg(feature = "sentry")]
    sentry: Arc<Mutex<Vec<serde_json::Value>>>,
    row: usize,
    start: Vec<(&'static crate::registry::FunctionEntry, [u64; 4], [u64; 4])>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("spans", &self.spans().len())
            .field("lines", &self.lines().len())
            .finish_non_exhaustive()
    }
}

/// Starts capturing on this thread.
pub fn capture() -> Capture {
    let metrics = crate::trace::PipelineMetrics::new(&prometheus::Registry::new())
        .expect("a fresh registry takes the pipeline metrics");
    let pipeline = Arc::new(crate::trace::Pipeline::memory(100_000, metrics));
    let redactor = crate::redact::Redactor::default();
    let core = crate::trace::SpanRecorder::new(
        crate::trace::Sampler::AlwaysOn,
        pipeline.clone(),
        redactor.clone(),
    );
    let lines = Arc::new(Mutex::new(VecDeque::new()));
    let output = crate::log::LogOutput {
        format: crate::log::LogFormat::Json,
        service: "test".into(),
        environment: "test".into(),
        version: String::new(),
        redactor,
        sink: crate::log::LogSink::Memory(lines.clone()),
        #[cfg(feature = "console")]
        console: None,
    };
    let everything: tracing_subscriber::filter::Targets =
        "trace".parse().expect("`trace` is a valid directive");
    let subscriber =
        crate::trace::TeeiSubscriber::fast(core, everything.clone(), everything, output);
    #[cfg(feature = "sentry")]
    let sentry = Arc::new(Mutex::new(Vec::new()));
    #[cfg(feature = "sentry")]
    let subscriber = subscriber.capturing_sentry(sentry.clone());
    let row = crate::metrics::slot::Slot::current().row();
    let start = crate::registry::functions()
        .filter_map(|entry| {
            let metrics = entry.metrics()?;
            Some((
                entry,
                Outcome::ALL.map(|o| metrics.calls_in_row(row, o)),
                Outcome::ALL.map(|o| metrics.calls(o)),
            ))
        })
        .collect();
    Capture {
        _default: tracing::subscriber::set_default(subscriber),
        pipeline,
        lines,
        #[cfg(feature = "sentry")]
        sentry,
        row,
        start,
    }
}

/// A captured span.
#[derive(Clone, Debug)]
pub struct CapturedSpan(pub SpanData);

impl CapturedSpan {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Its kind.
    pub fn kind(&self) -> SpanKind {
        self.0.span_kind.clone()
    }

    /// The attribute `key` as text.
    pub fn attribute(&self, key: &str) -> Option<String> {
        self.0
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    /// Whether its status is an error.
    pub fn is_error(&self) -> bool {
        matches!(self.0.status, Status::Error { .. })
    }

    /// Its status.
    pub fn status(&self) -> &Status {
        &self.0.status
    }

    /// The names of its events, in order.
    pub fn event_names(&self) -> Vec<String> {
        self.0.events.iter().map(|e| e.name.to_string()).collect()
    }

    /// Whether `parent` is its parent.
    pub fn is_child_of(&self, parent: &CapturedSpan) -> bool {
        self.0.parent_span_id == parent.0.span_context.span_id()
            && self.0.span_context.trace_id() == parent.0.span_context.trace_id()
    }
}

/// How many calls of one `#[counted]` function ended each way during the capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    /// Returned normally.
    pub ok: u64,
    /// Returned an `Err`.
    pub error: u64,
    /// Panicked.
    pub panic: u64,
    /// Dropped before completion.
    pub cancelled: u64,
}

impl Capture {
    /// Every span finished so far, oldest first.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        self.pipeline
            .recent()
            .into_iter()
            .map(CapturedSpan)
            .collect()
    }

    /// The finished spans named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<CapturedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name() == name)
            .collect()
    }

    /// The one span named `name`; panics, listing the captured spans, if there is none or
    /// more than one.
    #[track_caller]
    pub fn span(&self, name: &str) -> CapturedSpan {
        let mut found = self.spans_named(name);
        if found.len() != 1 {
            panic!(
                "expected one span named {name:?}, captured {}: {}",
                found.len(),
                self.describe_spans()
            );
        }
        found.remove(0)
    }

    /// The children of `parent` among the captured spans.
    pub fn children(&self, parent: &CapturedSpan) -> Vec<CapturedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.is_child_of(parent))
            .collect()
    }

    /// Every log line, parsed (the capture writes JSON lines).
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The first line whose message is `message`; panics, listing the lines, if none is.
    #[track_caller]
    pub fn log(&self, message: &str) -> serde_json::Value {
        let lines = self.lines();
        match lines.iter().find(|line| line["msg"] == message) {
            Some(line) => line.clone(),
            None => panic!(
                "no log line {message:?}; captured {}:\n{}",
                lines.len(),
                lines
                    .iter()
                    .map(|l| format!("  {} {}", l["level"], l["msg"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    /// The Sentry events the captured code would have sent, as the SDK's JSON: ERROR events
    /// (exception events for error values) and
    /// [`errors::Capture`](crate::error_tracking::Capture)'s, redacted.
    #[cfg(feature = "sentry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sentry")))]
    pub fn sentry_events(&self) -> Vec<serde_json::Value> {
        self.sentry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The calls of the `#[counted]` function `name` (or `module::name`) made on this
    /// thread since the capture began; panics, listing the counted functions, if no
    /// function or several match. (Past 15 threads calling counted functions at once, a
    /// thread shares its storage row and the count may include other threads' calls.)
    #[track_caller]
    pub fn calls(&self, name: &str) -> Calls {
        let (entry, start, _) = self.entry(name);
        let metrics = entry.metrics().expect("counted entries have metrics");
        let now = Outcome::ALL.map(|o| metrics.calls_in_row(self.row, o));
        delta(start, now)
    }

    /// Like [`Capture::calls`], counting every thread's calls (other tests' too).
    #[track_caller]
    pub fn calls_anywhere(&self, name: &str) -> Calls {
        let (entry, _, start) = self.entry(name);
        let metrics = entry.metrics().expect("counted entries have metrics");
        delta(start, Outcome::ALL.map(|o| metrics.calls(o)))
    }

    #[track_caller]
    fn entry(&self, name: &str) -> (&'static crate::registry::FunctionEntry, [u64; 4], [u64; 4]) {
        let matches: Vec<_> = self
            .start
            .iter()
            .filter(|(entry, _, _)| {
                entry.name() == name || format!("{}::{}", entry.module(), entry.name()) == name
            })
            .collect();
        match matches.as_slice() {
            [one] => **one,
            _ => panic!(
                "{} counted functions match {name:?}; the counted functions are: {}",
                matches.len(),
                self.start
                    .iter()
                    .map(|(e, _, _)| format!("{}::{}", e.module(), e.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn describe_spans(&self) -> String {
        let spans = self.spans();
        if spans.is_empty() {
            return "none".to_owned();
        }
        spans
            .iter()
            .map(|s| {
                format!(
                    "\n  {} ({:?}, {:?}) span {} parent {}",
                    s.name(),
                    s.0.span_kind,
                    s.0.status,
                    s.0.span_context.span_id(),
                    s.0.parent_span_id
                )
            })
            .collect()
    }
}

fn delta(start: [u64; 4], now: [u64; 4]) -> Calls {
    let d = |i: usize| now[i].wrapping_sub(start[i]);
    Calls {
        ok: d(0),
        error: d(1),
        panic: d(2),
        cancelled: d(3),
    }
}
