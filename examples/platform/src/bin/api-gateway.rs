//! api-gateway (port 3000): the platform's front door. Forwards `/v1/…` requests to the
//! service that owns them, with the caller's trace context and correlation ID, and checks
//! the six downstream services with the ready-made HTTP check.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use teei_obs::{counted, health_check, traced};
use teei_platform::service::{self, Error};

const NAME: &str = "api-gateway";

/// Where the downstream services listen, and the client that calls them: reqwest with
/// teei-obs's middleware, which opens a client span per call and sends its trace context,
/// baggage and the correlation ID along.
#[derive(Clone, Debug)]
struct Downstream {
    base: u16,
    client: reqwest_middleware::ClientWithMiddleware,
}

impl Downstream {
    async fn live(&self, service: &str) -> Result<String, String> {
        teei_obs::health::http_get(&service::url(self.base, service, "/health/liveness")).await
    }
}

#[health_check(
    kind = "http",
    name = "unified-profile",
    interval = "5s",
    timeout = "2s"
)]
async fn unified_profile(downstream: &Downstream) -> Result<String, String> {
    downstream.live("unified-profile").await
}

#[health_check(
    kind = "http",
    name = "kintell-connector",
    interval = "5s",
    timeout = "2s"
)]
async fn kintell_connector(downstream: &Downstream) -> Result<String, String> {
    downstream.live("kintell-connector").await
}

#[health_check(kind = "http", name = "buddy-service", interval = "5s", timeout = "2s")]
async fn buddy_service(downstream: &Downstream) -> Result<String, String> {
    downstream.live("buddy-service").await
}

#[health_check(
    kind = "http",
    name = "upskilling-connector",
    interval = "5s",
    timeout = "2s"
)]
async fn upskilling_connector(downstream: &Downstream) -> Result<String, String> {
    downstream.live("upskilling-connector").await
}

#[health_check(kind = "http", name = "q2q-ai", interval = "5s", timeout = "2s")]
async fn q2q_ai(downstream: &Downstream) -> Result<String, String> {
    downstream.live("q2q-ai").await
}

#[health_check(
    kind = "http",
    name = "safety-moderation",
    interval = "5s",
    timeout = "2s"
)]
async fn safety_moderation(downstream: &Downstream) -> Result<String, String> {
    downstream.live("safety-moderation").await
}

/// A downstream call that got no answer.
#[derive(Debug)]
struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Forwards one request downstream; the middleware's client span inside it carries the
/// trace to the service that owns the route.
#[counted(duration, objective(success = 99.5, latency = 0.25, within = 95))]
#[traced(err, fields(peer.service = service, http.request.method = %method))]
async fn forward(
    downstream: &Downstream,
    method: Method,
    service: &'static str,
    path: String,
    body: Bytes,
) -> Result<Response, Unreachable> {
    let response = downstream
        .client
        .request(method, service::url(downstream.base, service, &path))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| Unreachable(format!("{service} did not answer: {e}")))?;
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let body = response
        .bytes()
        .await
        .map_err(|e| Unreachable(format!("{service} broke off its answer: {e}")))?;
    let mut answer = (status, body).into_response();
    if let Some(content_type) = content_type {
        answer
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    Ok(answer)
}

async fn relay(
    downstream: &Downstream,
    method: Method,
    service: &'static str,
    path: String,
    body: Bytes,
) -> Response {
    match forward(downstream, method, service, path, body).await {
        Ok(response) => response,
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(serde_json::json!({ "error": error.to_string() })),
        )
            .into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let downstream = Downstream {
        base: service::base_port()?,
        client: reqwest_middleware::ClientBuilder::new(
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()?,
        )
        .with(teei_obs::client::ClientMiddleware::default())
        .build(),
    };
    let obs = teei_obs::init(service::config(NAME)?.provide(downstream.clone()))?;
    if service::generate_ops_if_asked(&obs)? {
        return Ok(());
    }
    let routes = axum::Router::new()
        .route(
            "/v1/profile/{id}",
            get(
                |State(d): State<Downstream>, Path(id): Path<String>| async move {
                    relay(
                        &d,
                        Method::GET,
                        "unified-profile",
                        format!("/v1/profile/{id}"),
                        Bytes::new(),
                    )
                    .await
                },
            )
            .put(
                |State(d): State<Downstream>, Path(id): Path<String>, body: Bytes| async move {
                    relay(
                        &d,
                        Method::PUT,
                        "unified-profile",
                        format!("/v1/profile/{id}"),
                        body,
                    )
                    .await
                },
            ),
        )
        .route(
            "/v1/buddies/{id}",
            get(
                |State(d): State<Downstream>, Path(id): Path<String>| async move {
                    relay(
                        &d,
                        Method::GET,
                        "buddy-service",
                        format!("/v1/buddies/{id}"),
                        Bytes::new(),
                    )
                    .await
                },
            ),
        )
        .route(
            "/v1/sessions/import",
            post(|State(d): State<Downstream>, body: Bytes| async move {
                relay(
                    &d,
                    Method::POST,
                    "kintell-connector",
                    "/v1/sessions/import".into(),
                    body,
                )
                .await
            }),
        )
        .route(
            "/v1/courses/sync",
            post(|State(d): State<Downstream>, body: Bytes| async move {
                relay(
                    &d,
                    Method::POST,
                    "upskilling-connector",
                    "/v1/courses/sync".into(),
                    body,
                )
                .await
            }),
        )
        .route(
            "/v1/classify",
            post(|State(d): State<Downstream>, body: Bytes| async move {
                relay(&d, Method::POST, "q2q-ai", "/v1/classify".into(), body).await
            }),
        )
        .route(
            "/v1/screen",
            post(|State(d): State<Downstream>, body: Bytes| async move {
                relay(
                    &d,
                    Method::POST,
                    "safety-moderation",
                    "/v1/screen".into(),
                    body,
                )
                .await
            }),
        )
        .with_state(downstream);
    service::serve(obs, NAME, routes).await
}
