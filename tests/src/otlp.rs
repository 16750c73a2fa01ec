//! OTLP receivers speaking the real protocol on 127.0.0.1, for the export tests: a tonic
//! gRPC `TraceService` and an HTTP `/v1/traces` endpoint decoding protobuf bodies, both
//! from `opentelemetry-proto`'s generated code.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// Everything a receiver was sent.
#[derive(Clone, Debug, Default)]
pub struct Received(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

/// A span as received, with the resource attributes of its batch.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The span.
    pub span: Span,
    /// `(key, string value)` of the resource it came with.
    pub resource: Vec<(String, String)>,
}

impl Received {
    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let requests = self.0.lock().unwrap();
        let mut spans = Vec::new();
        for request in requests.iter() {
            for resource_spans in &request.resource_spans {
                let resource: Vec<(String, String)> = resource_spans
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .map(|kv| (kv.key.clone(), string_value(kv.value.as_ref())))
                    .collect();
                for scope in &resource_spans.scope_spans {
                    for span in &scope.spans {
                        spans.push(ReceivedSpan {
                            span: span.clone(),
                            resource: resource.clone(),
                        });
                    }
                }
            }
        }
        spans
    }

    /// Waits (bounded by `timeout`) until `predicate` holds for the spans received.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        predicate: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if predicate(&spans) || tokio::time::Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn push(&self, request: ExportTraceServiceRequest) {
        self.0.lock().unwrap().push(request);
    }
}

/// The string form of an OTLP attribute value.
pub fn string_value(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// The string attribute `key` of `span`.
pub fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| string_value(kv.value.as_ref()))
}

#[derive(Clone)]
struct GrpcReceiver(Received);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Starts a gRPC OTLP receiver on `addr` (a port on 127.0.0.1).
pub async fn grpc_receiver(addr: SocketAddr) -> Received {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind receiver");
    let service = TraceServiceServer::new(GrpcReceiver(received.clone()));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .expect("receiver");
    });
    received
}

/// Starts an HTTP/protobuf OTLP receiver (`POST /v1/traces`) on `addr`.
pub async fn http_receiver(addr: SocketAddr) -> Received {
    let received = Received::default();
    let state = received.clone();
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                match ExportTraceServiceRequest::decode(body) {
                    Ok(request) => {
                        state.push(request);
                        let response = ExportTraceServiceResponse {
                            partial_success: None,
                        };
                        (
                            axum::http::StatusCode::OK,
                            [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                            response.encode_to_vec(),
                        )
                    }
                    Err(_) => (
                        axum::http::StatusCode::BAD_REQUEST,
                        [(axum::http::header::CONTENT_TYPE, "text/plain")],
                        b"not an ExportTraceServiceRequest".to_vec(),
                    ),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind receiver");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("receiver");
    });
    received
}

/// A free port on 127.0.0.1 (bound and released: nothing listens on it afterwards).
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}
