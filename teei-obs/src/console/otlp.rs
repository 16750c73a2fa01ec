//! The platform console's OTLP/HTTP receiver: `POST /v1/traces` with a protobuf
//! `ExportTraceServiceRequest` (the OpenTelemetry project's `opentelemetry-proto` types),
//! gzip-compressed or not.

use std::io::Read as _;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{span, status};
use prost::Message as _;

use super::Console;
use super::store::{ConsoleEvent, ConsoleSpan};

/// Largest body accepted, compressed or not (the services' batches are far smaller).
const MAX_BODY: u64 = 16 << 20;

pub(super) fn receive(console: &Console, headers: &HeaderMap, body: &[u8]) -> Response {
    let refuse = |code: StatusCode, why: String| (code, why).into_response();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-protobuf") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected application/x-protobuf, got {content_type:?}"),
        );
    }
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content-encoding {other:?}"),
            );
        }
    };
    let mut inflated = Vec::new();
    let body = if gzip {
        let read = flate2::read::GzDecoder::new(body)
            .take(MAX_BODY + 1)
            .read_to_end(&mut inflated);
        match read {
            Ok(n) if n as u64 <= MAX_BODY => &inflated[..],
            Ok(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "body too large".into()),
            Err(error) => return refuse(StatusCode::BAD_REQUEST, format!("bad gzip: {error}")),
        }
    } else {
        body
    };
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, format!("bad protobuf: {error}")),
    };
    console.keep(spans_of(request, &console.inner.redactor));
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

fn spans_of(
    request: ExportTraceServiceRequest,
    redactor: &crate::redact::Redactor,
) -> Vec<ConsoleSpan> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .map_or_else(
                || "unknown_service".to_owned(),
                |kv| text(kv.value.as_ref()),
            );
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(console_span(span, &service).redacted(redactor));
            }
        }
    }
    spans
}

fn console_span(span: opentelemetry_proto::tonic::trace::v1::Span, service: &str) -> ConsoleSpan {
    let (status, status_message) = match span.status {
        Some(s) if s.code == status::StatusCode::Error as i32 => ("error", s.message),
        Some(s) if s.code == status::StatusCode::Ok as i32 => ("ok", s.message),
        _ => ("unset", String::new()),
    };
    let kind = match span::SpanKind::try_from(span.kind) {
        Ok(span::SpanKind::Server) => "server",
        Ok(span::SpanKind::Client) => "client",
        Ok(span::SpanKind::Producer) => "producer",
        Ok(span::SpanKind::Consumer) => "consumer",
        _ => "internal",
    };
    ConsoleSpan {
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
        parent_id: hex(&span.parent_span_id),
        name: span.name,
        service: service.to_owned(),
        kind,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        status,
        status_message,
        attributes: pairs(&span.attributes),
        events: span
            .events
            .into_iter()
            .map(|event| ConsoleEvent {
                name: event.name,
                time_unix_nano: event.time_unix_nano,
                attributes: pairs(&event.attributes),
            })
            .collect(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(list)) => {
            let items: Vec<String> = list.values.iter().map(|v| text(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(any_value::Value::KvlistValue(list)) => {
            let items: Vec<String> = list
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, text(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Some(any_value::Value::BytesValue(bytes)) => hex(bytes),
        // A string-table reference (profiles' dictionary), which trace exports do not use.
        Some(_) | None => String::new(),
    }
}
