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
use tracing::field::{Field, Visit};

use crate::redact::{REDACTED, Redactor};

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
}

/// The trace context of the event being written.
pub(crate) struct LineContext<'a> {
    pub(crate) trace_id: Option<u128>,
    pub(crate) span_id: Option<u64>,
    /// Fields of the enclosing spans, outermost first.
    pub(crate) span_fields: &'a [(&'static str, Value)],
}

/// Collects an event's or a span's fields as JSON values.
#[derive(Default)]
pub(crate) struct JsonFields {
    pub(crate) message: Option<String>,
    pub(crate) fields: Vec<(&'static str, Value)>,
}

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.push((field.name(), Value::from(value)));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.push((field.name(), Value::from(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.push((field.name(), Value::from(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.push((field.name(), Value::from(value)));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.fields.push((field.name(), Value::from(value)));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            self.fields
                .push((field.name(), Value::from(format!("{value:?}"))));
        }
    }
}

impl LogOutput {
    fn redact(&self, key: &str, value: Value) -> Value {
        if self.redactor.is_sensitive_key(key) {
            return Value::from(REDACTED);
        }
        let mut value = value;
        self.redactor.redact_json(&mut value);
        value
    }

    /// Writes one line for `event`; returns its redacted message and fields.
    pub(crate) fn write(
        &self,
        event: &tracing::Event<'_>,
        context: LineContext<'_>,
    ) -> (String, Map<String, Value>) {
        let metadata = event.metadata();
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let message = fields
            .message
            .as_deref()
            .map(|m| self.redactor.redact_text(m).into_owned())
            .unwrap_or_default();
        let ids = crate::trace::request_ids();
        let redacted: Map<String, Value> = context
            .span_fields
            .iter()
            .cloned()
            .chain(fields.fields)
            .map(|(key, value)| (key.to_owned(), self.redact(key, value)))
            .collect();
        let line = match self.format {
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert(
                    "level".into(),
                    Value::from(metadata.level().as_str().to_ascii_lowercase()),
                );
                object.insert(
                    "time".into(),
                    Value::from(crate::health::rfc3339(std::time::SystemTime::now())),
                );
                object.insert("service".into(), Value::from(self.service.as_str()));
                object.insert("environment".into(), Value::from(self.environment.as_str()));
                object.insert("version".into(), Value::from(self.version.as_str()));
                if let Some(correlation) = &ids.0 {
                    object.insert("correlationId".into(), Value::from(correlation.as_ref()));
                }
                if let Some(causation) = &ids.1 {
                    object.insert("causationId".into(), Value::from(causation.as_ref()));
                }
                if let Some(trace_id) = context.trace_id {
                    object.insert("traceId".into(), Value::from(format!("{trace_id:032x}")));
                }
                if let Some(span_id) = context.span_id {
                    object.insert("spanId".into(), Value::from(format!("{span_id:016x}")));
                }
                object.insert("target".into(), Value::from(metadata.target()));
                object.insert("msg".into(), Value::from(message.as_str()));
                for (key, value) in &redacted {
                    object.insert(key.clone(), value.clone());
                }
                Value::Object(object).to_string()
            }
            LogFormat::Pretty => {
                let mut line = format!(
                    "{} {:>5} {}: {}",
                    crate::health::rfc3339(std::time::SystemTime::now()),
                    metadata.level(),
                    metadata.target(),
                    escape(&message)
                );
                for (key, value) in &redacted {
                    let text = match value {
                        Value::String(s) => escape(s),
                        other => other.to_string(),
                    };
                    let _ = write!(line, " {key}={text}");
                }
                if let Some(trace_id) = context.trace_id {
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
        (message, redacted)
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
