//! Log lines: JSON in production, a readable line in development, both redacted, both
//! carrying the request's correlation and trace IDs.
//!
//! `init` installs them through its subscriber: every `tracing` event that passes the
//! `RUST_LOG` filter becomes one line on standard error. `LOG_FORMAT` (`json` or
//! `pretty`) overrides the environment's default. JSON lines use the TypeScript package's
//! field names:
//!
//! ```json
//! {"level":"info","time":"2025-11-13T12:00:00.000Z","service":"api-gateway",
//!  "environment":"production","version":"1.0.0","correlationId":"abc-123",
//!  "traceId":"4bf9…","spanId":"00f0…","msg":"User authenticated","userId":"123"}
//! ```
//!
//! followed by the event's own fields and those of the spans it happened in, flattened.
//! The typed helpers ([`request`], [`query`], [`event`], [`security_event`], [`audit`],
//! [`performance`], [`external_call`]) emit the TypeScript package's specialised records
//! with a `type` field.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::redact::Redactor;
use crate::trace::Prepared;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// `time LEVEL target: message key=value … trace_id=… correlation_id=…`.
    Pretty,
}

/// Where lines go.
#[derive(Clone, Debug)]
pub(crate) enum LogSink {
    Stderr,
    Memory(Arc<Mutex<VecDeque<String>>>),
}

/// What every line carries, and where it goes.
#[derive(Clone, Debug)]
pub(crate) struct LogOutput {
    pub(crate) format: LogFormat,
    pub(crate) service: String,
    pub(crate) environment: String,
    pub(crate) version: String,
    pub(crate) redactor: Redactor,
    pub(crate) sink: LogSink,
    /// The console's log ring, when the console is on.
    #[cfg(feature = "console")]
    pub(crate) console: Option<crate::console::Console>,
}

impl LogOutput {
    /// `event` with the fields of its spans, redacted by this output's policy.
    pub(crate) fn prepare(
        &self,
        event: &tracing::Event<'_>,
        span_fields: &[(&'static str, Value)],
    ) -> Prepared {
        crate::trace::prepare(&self.redactor, event, span_fields)
    }

    /// Writes one line for `event`, in the trace (`trace_id`, `span_id`) it happened in.
    pub(crate) fn write(&self, event: &Prepared, trace_id: Option<u128>, span_id: Option<u64>) {
        let ids = crate::trace::request_ids();
        #[cfg(feature = "console")]
        if let Some(console) = &self.console {
            console.record_log(
                event,
                crate::console::LogIds {
                    trace_id,
                    span_id,
                    correlation_id: ids.0.as_deref(),
                },
            );
        }
        let now = crate::time::rfc3339(std::time::SystemTime::now());
        let line = match self.format {
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert(
                    "level".into(),
                    Value::from(event.level.as_str().to_ascii_lowercase()),
                );
                object.insert("time".into(), Value::from(now));
                object.insert("service".into(), Value::from(self.service.as_str()));
                object.insert("environment".into(), Value::from(self.environment.as_str()));
                object.insert("version".into(), Value::from(self.version.as_str()));
                if let Some(correlation) = &ids.0 {
                    object.insert("correlationId".into(), Value::from(correlation.as_ref()));
                }
                if let Some(causation) = &ids.1 {
                    object.insert("causationId".into(), Value::from(causation.as_ref()));
                }
                if let Some(trace_id) = trace_id {
                    object.insert("traceId".into(), Value::from(format!("{trace_id:032x}")));
                }
                if let Some(span_id) = span_id {
                    object.insert("spanId".into(), Value::from(format!("{span_id:016x}")));
                }
                object.insert("target".into(), Value::from(event.target.as_str()));
                object.insert("msg".into(), Value::from(event.message.as_str()));
                for (key, value) in &event.fields {
                    object.insert(key.clone(), value.clone());
                }
                Value::Object(object).to_string()
            }
            LogFormat::Pretty => {
                let mut line = format!(
                    "{now} {:>5} {}: {}",
                    event.level,
                    event.target,
                    escape(&event.message)
                );
                for (key, value) in &event.fields {
                    let text = match value {
                        Value::String(s) => escape(s),
                        other => other.to_string(),
                    };
                    let _ = write!(line, " {key}={text}");
                }
                if let Some(trace_id) = trace_id {
                    let _ = write!(line, " trace_id={trace_id:032x}");
                }
                if let Some(correlation) = &ids.0 {
                    let _ = write!(line, " correlation_id={correlation}");
                }
                line
            }
        };
        match &self.sink {
            LogSink::Stderr => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            LogSink::Memory(lines) => {
                let mut lines = lines.lock().unwrap_or_else(|e| e.into_inner());
                if lines.len() == 10_000 {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
    }
}

/// The log-line writer as a `tracing_subscriber` layer, for a `Registry` of your own
/// ([`Obs::log_layer`](crate::Obs::log_layer); [`Obs::layers`](crate::Obs::layers) has it
/// with its `RUST_LOG` filter). The same lines as `init`'s subscriber writes: the same
/// fields, span fields, trace and correlation IDs and redaction.
#[derive(Clone, Debug)]
pub struct LogLayer {
    output: LogOutput,
    registry: crate::trace::RegistryHandle,
}

impl LogLayer {
    pub(crate) fn new(output: LogOutput) -> Self {
        LogLayer {
            output,
            registry: Default::default(),
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for LogLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    // Span fields kept in the span's extensions, the dispatcher remembered for trace IDs.
    crate::trace::event_layer_span_methods!();

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == crate::trace::PANIC_TARGET {
            return; // a span event only
        }
        let span_fields = crate::trace::scope_fields(event, &ctx);
        let prepared = self.output.prepare(event, &span_fields);
        let ids = self.registry.trace_ids(event, &ctx);
        self.output
            .write(&prepared, ids.map(|i| i.0), ids.map(|i| i.1));
    }
}

/// Control characters as escapes, so user text cannot start a new line or rewrite one.
fn escape(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// An HTTP request handled: `type = "http.request"`.
pub fn request(method: &str, url: &str, status_code: u16, duration_ms: u64) {
    tracing::info!(
        r#type = "http.request",
        method,
        url,
        statusCode = status_code,
        duration = duration_ms,
        "HTTP Request"
    );
}

/// A database query: `type = "db.query"`.
pub fn query(operation: &str, table: &str, duration_ms: u64, rows: u64) {
    tracing::info!(
        r#type = "db.query",
        operation,
        table,
        duration = duration_ms,
        rows,
        "DB Query"
    );
}

/// An event processed: `type = "event"`.
pub fn event(event_type: &str, event_id: &str) {
    tracing::info!(
        r#type = "event",
        eventType = event_type,
        eventId = event_id,
        "Event"
    );
}

/// How bad a security event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Needs attention.
    Medium,
    /// Act now.
    High,
    /// Act now and wake someone.
    Critical,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A security event: `type = "security"`, logged at WARN (ERROR when high or critical).
pub fn security_event(name: &str, severity: Severity, user_id: Option<&str>) {
    let severity_name = severity.as_str();
    if matches!(severity, Severity::High | Severity::Critical) {
        tracing::error!(
            r#type = "security",
            event = name,
            severity = severity_name,
            userId = user_id,
            "Security Event"
        );
    } else {
        tracing::warn!(
            r#type = "security",
            event = name,
            severity = severity_name,
            userId = user_id,
            "Security Event"
        );
    }
}

/// An audit record: `type = "audit"`.
pub fn audit(action: &str, actor: &str, resource: &str, outcome: &str) {
    tracing::info!(r#type = "audit", action, actor, resource, outcome, "Audit");
}

/// A performance measurement: `type = "performance"`.
pub fn performance(operation: &str, duration_ms: u64) {
    tracing::info!(
        r#type = "performance",
        operation,
        duration = duration_ms,
        "Performance"
    );
}

/// A call to an external service: `type = "external.call"`.
pub fn external_call(service: &str, operation: &str, status_code: Option<u16>, duration_ms: u64) {
    tracing::info!(
        r#type = "external.call",
        service,
        operation,
        statusCode = status_code,
        duration = duration_ms,
        "External Call"
    );
}
