//! The embedded console: health, function stats, traces and log lines of a service in one
//! browser tab, with nothing else installed.
//!
#![doc = include_str!("../../../docs/console.md")]

mod api;
mod functions;
mod peers;
pub(crate) use api::service_router;
mod otlp;
mod store;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

use crate::redact::Redactor;
pub use store::ConsoleLimits;
use store::{ConsoleEvent, ConsoleLog, ConsoleSpan, LogRing, TraceRing};

/// The path [`Obs::router`](crate::Obs::router) mounts the console at.
pub const PATH: &str = "/obs";

/// A console's memory: the latest traces and log lines, bounded and redacted.
///
/// A service's console is made by [`init`](crate::init) (see
/// [`Config::console`](crate::Config::console)) and served by
/// [`Obs::router`](crate::Obs::router); a console for many services, fed over OTLP, is
/// [`Console::platform`].
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    redactor: Redactor,
    limits: ConsoleLimits,
    traces: Mutex<TraceRing>,
    logs: Mutex<LogRing>,
    rates: Mutex<functions::RateWindow>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("service", &self.inner.service)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// A service the platform console shows: its name and where it listens
/// (`http://127.0.0.1:3001`), whose `/obs/api/…` views it merges into its own.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The service's name.
    pub name: String,
    /// Its base URL, without a trailing `/`.
    pub url: String,
}

impl Console {
    pub(crate) fn new(service: &str, redactor: Redactor, limits: ConsoleLimits) -> Console {
        Console {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                redactor,
                limits,
                traces: Mutex::default(),
                logs: Mutex::default(),
                rates: Mutex::default(),
            }),
        }
    }

    /// A console for several services: it receives their spans as OTLP/HTTP
    /// (`POST /v1/traces`, protobuf, gzip or not, as the services' exporters send them
    /// with `OTEL_EXPORTER_OTLP_ENDPOINT` pointed here), keeps them like a service's
    /// console, and shows the health, functions and log lines of `peers` by asking each
    /// one's console when a page asks. Serve [`PlatformConsole::router`].
    pub fn platform(
        redactor: Redactor,
        limits: ConsoleLimits,
        peers: Vec<Peer>,
    ) -> PlatformConsole {
        PlatformConsole {
            console: Console::new("platform", redactor, limits),
            peers: Arc::new(peers),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> ConsoleLimits {
        self.inner.limits
    }

    /// How many traces, spans and log lines are held now.
    pub fn held(&self) -> (usize, usize, usize) {
        let traces = self.inner.traces.lock().unwrap_or_else(|e| e.into_inner());
        let logs = self.inner.logs.lock().unwrap_or_else(|e| e.into_inner());
        (traces.len(), traces.span_count(), logs.lines.len())
    }

    /// Keeps finished spans of this process (the export thread's batch, or one span of the
    /// in-memory sink).
    pub(crate) fn record_spans<'a>(&self, spans: impl IntoIterator<Item = &'a SpanData>) {
        let spans: Vec<ConsoleSpan> = spans
            .into_iter()
            .map(|span| {
                from_span_data(span, &self.inner.service).recorded_here(&self.inner.redactor)
            })
            .collect();
        self.keep(spans);
    }

    fn keep(&self, spans: Vec<ConsoleSpan>) {
        let mut traces = self.inner.traces.lock().unwrap_or_else(|e| e.into_inner());
        for span in spans {
            traces.insert(span, &self.inner.limits);
        }
    }

    /// Keeps one log line (already redacted by the log output).
    pub(crate) fn record_log(&self, line: &crate::trace::Prepared, ids: LogIds<'_>) {
        let mut fields = serde_json::Map::new();
        for (key, value) in &line.fields {
            let mut value = value.clone();
            if let serde_json::Value::String(text) = &value {
                value = serde_json::Value::String(store::bounded(&self.inner.redactor, text));
            }
            fields.insert(key.clone(), value);
        }
        let line = ConsoleLog {
            time_unix_ms: crate::time::unix_millis(SystemTime::now()),
            level: line.level.as_str().to_ascii_lowercase(),
            service: self.inner.service.clone(),
            target: line.target.clone(),
            msg: store::bounded(&self.inner.redactor, &line.message),
            fields,
            trace_id: ids
                .trace_id
                .map(|id| format!("{id:032x}"))
                .unwrap_or_default(),
            span_id: ids
                .span_id
                .map(|id| format!("{id:016x}"))
                .unwrap_or_default(),
            correlation_id: ids
                .correlation_id
                .map(|id| store::bounded(&self.inner.redactor, id))
                .unwrap_or_default(),
        };
        let limit = self.inner.limits.logs;
        self.inner
            .logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line, limit);
    }
}

/// The IDs a log line was written under.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LogIds<'a> {
    pub(crate) trace_id: Option<u128>,
    pub(crate) span_id: Option<u64>,
    pub(crate) correlation_id: Option<&'a str>,
}

/// The console of a whole platform: see [`Console::platform`].
#[derive(Clone, Debug)]
pub struct PlatformConsole {
    console: Console,
    peers: Arc<Vec<Peer>>,
}

impl PlatformConsole {
    /// The console's own memory (what it received over OTLP).
    pub fn console(&self) -> &Console {
        &self.console
    }

    /// The services it shows.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// `GET /obs` (the page), `GET /obs/api/…` and `POST /v1/traces` (OTLP/HTTP).
    pub fn router(&self) -> axum::Router {
        api::platform_router(self.clone())
    }
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn from_span_data(span: &SpanData, service: &str) -> ConsoleSpan {
    let text = |kvs: &[opentelemetry::KeyValue]| {
        kvs.iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect::<Vec<_>>()
    };
    let (status, status_message) = match &span.status {
        Status::Unset => ("unset", String::new()),
        Status::Ok => ("ok", String::new()),
        Status::Error { description } => ("error", description.to_string()),
    };
    let parent = span.parent_span_id;
    ConsoleSpan {
        trace_id: span.span_context.trace_id().to_string(),
        span_id: span.span_context.span_id().to_string(),
        parent_id: if parent == opentelemetry::trace::SpanId::INVALID {
            String::new()
        } else {
            parent.to_string()
        },
        name: span.name.to_string(),
        service: service.to_owned(),
        kind: kind_name(&span.span_kind),
        start_unix_nano: unix_nanos(span.start_time),
        end_unix_nano: unix_nanos(span.end_time),
        status,
        status_message,
        attributes: text(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| ConsoleEvent {
                name: event.name.to_string(),
                time_unix_nano: unix_nanos(event.timestamp),
                attributes: text(&event.attributes),
            })
            .collect(),
    }
}
