//! buddy-service (port 3003): matches buddies from what happens on the platform. Consumes
//! `profile.*` and `kintell.*` events (each handled in its publisher's trace) and answers
//! `GET /v1/buddies/{id}` with what it learnt about the user.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::routing::get;
use teei_obs::{counted, health_check, traced};
use teei_platform::bus::{self, Message};
use teei_platform::service::{self, Error};

const NAME: &str = "buddy-service";

#[health_check(kind = "nats", name = "event-bus", interval = "5s")]
async fn event_bus(bus: &async_nats::Client) -> Result<String, String> {
    teei_obs::health::nats(bus).await
}

/// Events seen per user, by type.
type Activity = Arc<Mutex<HashMap<String, HashMap<String, u64>>>>;

/// An event this service cannot read.
#[derive(Debug)]
struct Unreadable(String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[counted(duration, objective(success = 99))]
#[traced(kind = "consumer", err, fields(messaging.destination.name = %message.subject))]
async fn on_event(activity: &Activity, message: Message) -> Result<(), Unreadable> {
    let event: serde_json::Value = serde_json::from_slice(&message.payload)
        .map_err(|e| Unreadable(format!("not JSON: {e}")))?;
    let user = event["id"]
        .as_str()
        .or_else(|| event["session"]["user_id"].as_str())
        .ok_or_else(|| Unreadable("no user id in the event".into()))?;
    *activity
        .lock()
        .expect("activity table")
        .entry(user.to_owned())
        .or_default()
        .entry(message.subject)
        .or_default() += 1;
    Ok(())
}

async fn buddies(
    State(activity): State<Activity>,
    Path(id): Path<String>,
) -> axum::Json<serde_json::Value> {
    let activity = activity.lock().expect("activity table");
    let seen = activity.get(&id).cloned().unwrap_or_default();
    // Buddies: other users active in the same kinds of events.
    let mut matches: Vec<&String> = activity
        .iter()
        .filter(|(other, events)| **other != id && events.keys().any(|k| seen.contains_key(k)))
        .map(|(other, _)| other)
        .collect();
    matches.sort();
    axum::Json(serde_json::json!({ "id": id, "events": seen, "buddies": matches }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let nats = service::bus_client(NAME).await?;
    let obs = teei_obs::init(service::config(NAME)?.provide(nats.clone()))?;
    if service::generate_ops_if_asked(&obs)? {
        return Ok(());
    }
    let bus = teei_platform::bus::Bus::new(nats, obs.standard_metrics().clone());
    let activity = Activity::default();
    for subject in ["profile.*", "kintell.>"] {
        // A queue group per service: more replicas share the events instead of each taking all.
        let messages = bus.queue_subscribe(subject, NAME).await?;
        let (activity, metrics) = (activity.clone(), obs.standard_metrics().clone());
        tokio::spawn(bus::consume(subject, messages, metrics, move |message| {
            let activity = activity.clone();
            async move { on_event(&activity, message).await }
        }));
    }
    let routes = axum::Router::new()
        .route("/v1/buddies/{id}", get(buddies))
        .with_state(activity);
    service::serve(obs, NAME, routes).await
}
