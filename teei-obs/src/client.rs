//! Outgoing HTTP calls that continue the trace: a `client` span per request, named and
//! attributed as the OpenTelemetry HTTP semantic conventions say, with the trace context,
//! baggage and correlation/causation IDs injected into the request's headers and the
//! response status recorded.
//!
//! Two ways in, one span shape:
//!
//! - [`ClientMiddleware`] for `reqwest` through `reqwest-middleware` (feature `reqwest`);
//! - [`ClientLayer`], a tower layer for any client that is a
//!   `Service<http::Request<B>, Response = http::Response<R>>`: hyper's, tonic's channel,
//!   `tower::ServiceBuilder` stacks.
//!
//! The callee's server span becomes the child of the client span, which is the child of the
//! span current when the call was made — one trace across the hop.
//!
//! ```
//! use teei_obs::client::ClientLayer;
//! use tower::{Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // Any tower service over `http::Request`; this one answers with what the callee saw.
//! let client = ClientLayer::new().layer(tower::service_fn(|request: http::Request<()>| async move {
//!     let seen = request.headers().get("x-correlation-id").cloned();
//!     Ok::<_, std::convert::Infallible>(http::Response::new(seen))
//! }));
//! let context = teei_obs::trace::RequestContext::new_root();
//! let id = context.correlation_id().to_owned();
//! let response = context.scope(client.oneshot(http::Request::new(()))).await.unwrap();
//! assert_eq!(response.body().as_ref().unwrap(), id.as_str());
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The client span for a request of `method` to `uri`.
pub(crate) fn client_span(method: &http::Method, uri: &http::Uri) -> tracing::Span {
    let scheme = uri.scheme_str().unwrap_or("http");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    tracing::info_span!(
        target: "teei_obs::client",
        "HTTP client request",
        // `{method}`: a client rarely knows the route template, and the full path would
        // make span names unbounded.
        otel.name = method.as_str(),
        otel.kind = "client",
        http.request.method = method.as_str(),
        server.address = uri.host().unwrap_or(""),
        server.port = port,
        url.full = %FullUrl(uri),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    )
}

/// A URL for `url.full`: never with user-info (the conventions forbid credentials there);
/// query values pass through the redaction policy like every attribute.
struct FullUrl<'a>(&'a http::Uri);

impl std::fmt::Display for FullUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uri = self.0;
        if let Some(scheme) = uri.scheme_str() {
            write!(f, "{scheme}://")?;
        }
        if let Some(authority) = uri.authority() {
            let host_port = authority
                .as_str()
                .rsplit_once('@')
                .map_or(authority.as_str(), |(_, rest)| rest);
            f.write_str(host_port)?;
        }
        match uri.path_and_query() {
            Some(path) => f.write_str(path.as_str()),
            None => Ok(()),
        }
    }
}

/// Injects the context of `span` (and the request IDs) into `headers`.
pub(crate) fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    span.in_scope(|| crate::trace::inject_http(headers));
}

/// Records a response: its status, and for 4xx and 5xx (errors, for a client) the error.
pub(crate) fn record_status(span: &tracing::Span, status: http::StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_client_error() || status.is_server_error() {
        span.record("error.type", status.as_str());
        span.record("otel.status_description", status.as_str());
    }
}

/// Records a request that got no response.
pub(crate) fn record_failure(span: &tracing::Span, kind: &str, description: &str) {
    span.record("error.type", kind);
    span.record("otel.status_description", description);
}

/// A tower layer for HTTP clients: every request gets a `client` span and carries the trace
/// context, baggage and request IDs; see the [module documentation](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientLayer {
    _private: (),
}

impl ClientLayer {
    /// The layer.
    pub fn new() -> Self {
        ClientLayer::default()
    }
}

impl<S> tower_layer::Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientService { inner }
    }
}

/// The service [`ClientLayer`] wraps a client in.
#[derive(Clone, Debug)]
pub struct ClientService<S> {
    inner: S,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for ClientService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ClientFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let span = client_span(request.method(), request.uri());
        inject(&span, request.headers_mut());
        // A tonic interceptor or other OpenTelemetry-API code below sees the client span
        // through the global tracer and propagator (trace::global).
        let inner = span.in_scope(|| self.inner.call(request));
        ClientFuture { inner, span }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ClientService`]: polled in the client span, which records
    /// the status when the response arrives.
    #[derive(Debug)]
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
    }
}

impl<F, R, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    E: std::fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = std::task::ready!(this.inner.poll(cx));
        match &result {
            Ok(response) => record_status(this.span, response.status()),
            Err(error) => record_failure(this.span, "transport", &error.to_string()),
        }
        Poll::Ready(result)
    }
}

/// A `reqwest-middleware` middleware: every request gets a `client` span and carries the
/// trace context, baggage and request IDs; see the [module documentation](self).
///
/// ```no_run
/// # async fn call() -> Result<(), reqwest_middleware::Error> {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(teei_obs::client::ClientMiddleware::default())
///     .build();
/// let response = client.get("http://127.0.0.1:3001/v1/profile/1").send().await?;
/// # drop(response); Ok(()) }
/// ```
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientMiddleware {
    _private: (),
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl reqwest_middleware::Middleware for ClientMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        use tracing::Instrument;

        let uri: http::Uri = request
            .url()
            .as_str()
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"));
        let span = client_span(request.method(), &uri);
        inject(&span, request.headers_mut());
        let result = next.run(request, extensions).instrument(span.clone()).await;
        match &result {
            Ok(response) => record_status(&span, response.status()),
            Err(error) => {
                let kind = match error {
                    reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "timeout",
                    reqwest_middleware::Error::Reqwest(e) if e.is_connect() => "connect",
                    _ => "transport",
                };
                record_failure(&span, kind, &error.to_string());
            }
        }
        result
    }
}
