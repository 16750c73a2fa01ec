//! kintell-connector (port 3002): imports Kintell mentoring sessions from CSV
//! (`POST /v1/sessions/import`, header `user_id,mentor,minutes`) and publishes one
//! `kintell.session.completed` event per row. A malformed file is refused whole, with the
//! line and the reason, and nothing of it is published.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use teei_obs::{counted, health_check, traced};
use teei_platform::bus::Bus;
use teei_platform::service::{self, Error};

const NAME: &str = "kintell-connector";

#[health_check(kind = "nats", name = "event-bus", interval = "5s")]
async fn event_bus(bus: &async_nats::Client) -> Result<String, String> {
    teei_obs::health::nats(bus).await
}

/// One completed session.
#[derive(Debug, serde::Serialize)]
struct Session {
    user_id: String,
    mentor: String,
    minutes: u32,
}

/// Why a CSV file was refused.
#[derive(Debug)]
struct CsvError {
    line: usize,
    reason: String,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Parses the whole file first, so a bad row refuses the file before anything is sent.
#[counted(duration)]
#[traced(err, fields(csv.bytes = text.len()))]
fn parse_sessions(text: &str) -> Result<Vec<Session>, CsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim() == "user_id,mentor,minutes" => {}
        _ => {
            return Err(CsvError {
                line: 1,
                reason: "expected the header `user_id,mentor,minutes`".into(),
            });
        }
    }
    lines
        .map(|(index, line)| {
            let fail = |reason: String| CsvError {
                line: index + 1,
                reason,
            };
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [user_id, mentor, minutes] = fields[..] else {
                return Err(fail(format!("expected 3 fields, found {}", fields.len())));
            };
            if user_id.is_empty() {
                return Err(fail("empty user_id".into()));
            }
            let minutes = minutes
                .parse()
                .map_err(|_| fail(format!("minutes must be a whole number, not {minutes:?}")))?;
            Ok(Session {
                user_id: user_id.into(),
                mentor: mentor.into(),
                minutes,
            })
        })
        .collect()
}

#[counted(duration)]
#[traced(kind = "producer", err, fields(sessions = sessions.len()))]
async fn publish_sessions(
    bus: &Bus,
    sessions: &[Session],
) -> Result<usize, teei_platform::bus::BusError> {
    for session in sessions {
        let event = serde_json::json!({ "type": "kintell.session.completed", "session": session });
        bus.publish("kintell.session.completed", event.to_string().as_bytes())
            .await?;
    }
    Ok(sessions.len())
}

async fn import(State(bus): State<Bus>, body: String) -> Response {
    let sessions = match parse_sessions(&body) {
        Ok(sessions) => sessions,
        Err(error) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(serde_json::json!({ "error": error.to_string() })),
            )
                .into_response();
        }
    };
    match publish_sessions(&bus, &sessions).await {
        Ok(count) => axum::Json(serde_json::json!({ "imported": count })).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "error": error.to_string() })),
        )
            .into_response(),
    }
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
        .route("/v1/sessions/import", post(import))
        .with_state(bus);
    service::serve(obs, NAME, routes).await
}

#[cfg(test)]
mod tests {
    use super::parse_sessions;

    #[test]
    fn a_bad_row_refuses_the_file_with_its_line() {
        let ok =
            parse_sessions("user_id,mentor,minutes\nuser123,m1,30\n\nuser456,m2,45\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].minutes, 45);
        let error =
            parse_sessions("user_id,mentor,minutes\nuser123,m1,30\nuser456,m2,many\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 3: minutes must be a whole number, not \"many\""
        );
        assert!(parse_sessions("id,name\n").is_err());
        assert!(
            parse_sessions("user_id,mentor,minutes\n,m1,3")
                .unwrap_err()
                .to_string()
                .contains("empty user_id")
        );
    }
}
