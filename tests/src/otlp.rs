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
pub struct Received(Arc<Mutex<Vec<ExportTraceServiceRequest>>>, Headers);

type Headers = Arc<Mutex<Vec<Vec<(String, String)>>>>;

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

    /// The headers (gRPC metadata) of every export request, `(lower-case name, value)`.
    pub fn headers(&self) -> Vec<Vec<(String, String)>> {
        self.1.lock().unwrap().clone()
    }

    fn push(&self, headers: &axum::http::HeaderMap, request: ExportTraceServiceRequest) {
        let headers = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        self.1.lock().unwrap().push(headers);
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
        let headers = request.metadata().clone().into_headers();
        self.0.push(&headers, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Starts a gRPC OTLP receiver on `addr` (a port on 127.0.0.1).
pub async fn grpc_receiver(addr: SocketAddr) -> Received {
    start_grpc(addr, None).await
}

/// The certificate a TLS receiver presents and, for mutual TLS, the CA whose client
/// certificates it demands.
#[derive(Clone, Debug)]
pub struct ReceiverTls {
    /// The server certificate and key.
    pub server: crate::tls::Pem,
    /// With `Some`, clients must present a certificate this CA signed.
    pub client_ca: Option<String>,
}

/// Starts a gRPC OTLP receiver over TLS on `addr`.
pub async fn grpc_receiver_tls(addr: SocketAddr, tls: ReceiverTls) -> Received {
    start_grpc(addr, Some(tls)).await
}

async fn start_grpc(addr: SocketAddr, tls: Option<ReceiverTls>) -> Received {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind receiver");
    let service = TraceServiceServer::new(GrpcReceiver(received.clone()));
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&tls.server.certificate, &tls.server.key));
        if let Some(ca) = &tls.client_ca {
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        server = server.tls_config(config).expect("receiver TLS");
    }
    tokio::spawn(async move {
        server
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .expect("receiver");
    });
    received
}

/// Starts an HTTP/protobuf OTLP receiver (`POST /v1/traces`) on `addr`.
pub async fn http_receiver(addr: SocketAddr) -> Received {
    let (received, router) = http_router();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind receiver");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("receiver");
    });
    received
}

/// Starts an HTTP/protobuf OTLP receiver over TLS (HTTP/1.1, rustls) on `addr`.
pub async fn http_receiver_tls(addr: SocketAddr, tls: ReceiverTls) -> Received {
    let (received, router) = http_router();
    serve_tls(addr, tls, router).await;
    received
}

/// Serves `router` over TLS (HTTP/1.1, rustls) on `addr` with `tls`'s server certificate,
/// asking for a client certificate when `tls` names a client CA.
pub async fn serve_tls(addr: SocketAddr, tls: ReceiverTls, router: axum::Router) {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.server.certificate.as_bytes())
            .collect::<Result<_, _>>()
            .expect("server certificate");
    let key = PrivateKeyDer::from_pem_slice(tls.server.key.as_bytes()).expect("server key");
    let builder = rustls::ServerConfig::builder();
    let config = match &tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(certificate.expect("CA")).expect("CA root");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    }
    .with_single_cert(certificates, key)
    .expect("server TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind TLS server");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                // A client that fails the handshake (wrong CA, no certificate) ends here.
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn http_router() -> (Received, axum::Router) {
    let received = Received::default();
    let state = received.clone();
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    let gzip = headers
                        .get(axum::http::header::CONTENT_ENCODING)
                        .is_some_and(|encoding| encoding == "gzip");
                    let body = if gzip {
                        use std::io::Read;
                        let mut inflated = Vec::new();
                        match flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut inflated) {
                            Ok(_) => axum::body::Bytes::from(inflated),
                            Err(_) => axum::body::Bytes::new(),
                        }
                    } else {
                        body
                    };
                    match ExportTraceServiceRequest::decode(body) {
                        Ok(request) => {
                            state.push(&headers, request);
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
            },
        ),
    );
    (received, router)
}

/// A free port on 127.0.0.1 (bound and released: nothing listens on it afterwards).
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}
