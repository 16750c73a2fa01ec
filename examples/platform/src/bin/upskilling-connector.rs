//! upskilling-connector (port 3004): syncs course completions from the learning provider
//! (`POST /v1/courses/sync` with `{"user_id": …, "completed": [course ids]}`), checks them
//! against the provider's catalogue and publishes `upskilling.course.completed` events.
//! The provider is simulated in process (a catalogue with a few milliseconds of latency):
//! the example needs no outside service.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use teei_obs::{counted, health_check, traced};
use teei_platform::bus::Bus;
use teei_platform::service::{self, Error};

const NAME: &str = "upskilling-connector";

#[health_check(kind = "nats", name = "event-bus", interval = "5s")]
async fn event_bus(bus: &async_nats::Client) -> Result<String, String> {
    teei_obs::health::nats(bus).await
}

/// The provider's catalogue, as its API would answer.
#[counted(duration)]
#[traced(kind = "client", fields(peer.service = "learning-provider"))]
async fn fetch_catalog() -> Vec<&'static str> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    vec!["rust-101", "observability-201", "kubernetes-301", "sql-101"]
}

#[derive(Debug, serde::Deserialize)]
struct Sync {
    user_id: String,
    completed: Vec<String>,
}

async fn sync(State(bus): State<Bus>, body: axum::body::Bytes) -> Response {
    let reply =
        |status: StatusCode, body: serde_json::Value| (status, axum::Json(body)).into_response();
    let request: Sync = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return reply(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": format!("expected {{\"user_id\", \"completed\"}}: {error}") }),
            );
        }
    };
    let catalog = fetch_catalog().await;
    let unknown: Vec<&String> = request
        .completed
        .iter()
        .filter(|c| !catalog.contains(&c.as_str()))
        .collect();
    if !unknown.is_empty() {
        return reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({ "error": "unknown courses", "courses": unknown }),
        );
    }
    for course in &request.completed {
        let event = serde_json::json!({ "type": "upskilling.course.completed", "id": request.user_id, "course": course });
        if let Err(error) = bus
            .publish("upskilling.course.completed", event.to_string().as_bytes())
            .await
        {
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "error": error.to_string() }),
            );
        }
    }
    reply(
        StatusCode::OK,
        serde_json::json!({ "synced": request.completed.len() }),
    )
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let nats = service::bus_client(NAME).await?;
    let obs = teei_obs::init(service::config(NAME)?.provide(nats.clone()))?;
    if service::generate_ops_if_asked(&obs)? {
        return Ok(());
    }
    let bus = teei_platform::bus::Bus::new(nats, obs.standard_metrics().clone());
    let routes = axum::Router::new()
        .route("/v1/courses/sync", post(sync))
        .with_state(bus);
    service::serve(obs, NAME, routes).await
}
