//! safety-moderation (port 3006): screens content (`POST /v1/screen` with text) before it
//! reaches other users, and publishes `safety.content.flagged` for what it blocks or sends
//! to review. The decision is recorded on the span; the text itself never is.

use axum::extract::State;
use axum::routing::post;
use teei_obs::{counted, health_check, traced};
use teei_platform::bus::Bus;
use teei_platform::service::{self, Error};

const NAME: &str = "safety-moderation";
const BLOCKED: [&str; 3] = ["scam", "threat", "abuse"];
const REVIEW: [&str; 3] = ["hate", "unsafe", "harass"];

#[health_check(kind = "nats", name = "event-bus", interval = "5s")]
async fn event_bus(bus: &async_nats::Client) -> Result<String, String> {
    teei_obs::health::nats(bus).await
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Allowed,
    Review,
    Blocked,
}

#[counted(duration)]
#[traced(fields(verdict = tracing::field::Empty))]
fn screen(text: &str) -> Verdict {
    let lower = text.to_lowercase();
    let verdict = if BLOCKED.iter().any(|w| lower.contains(w)) {
        Verdict::Blocked
    } else if REVIEW.iter().any(|w| lower.contains(w)) {
        Verdict::Review
    } else {
        Verdict::Allowed
    };
    tracing::Span::current().record("verdict", format!("{verdict:?}"));
    verdict
}

async fn screen_route(State(bus): State<Bus>, text: String) -> axum::Json<serde_json::Value> {
    let verdict = screen(&text);
    let mut published = true;
    if verdict != Verdict::Allowed {
        let event = serde_json::json!({ "type": "safety.content.flagged", "verdict": verdict });
        if let Err(error) = bus
            .publish("safety.content.flagged", event.to_string().as_bytes())
            .await
        {
            tracing::warn!(%error, "flag not published");
            published = false;
        }
    }
    axum::Json(serde_json::json!({ "verdict": verdict, "published": published }))
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
        .route("/v1/screen", post(screen_route))
        .with_state(bus);
    service::serve(obs, NAME, routes).await
}
