//! The platform console's views of its peers: each service's console asked when a page
//! asks (no polling), the answers merged and redacted again.

use std::time::Duration;

use serde_json::{Value, json};

use super::{PATH, PlatformConsole};

/// One of the peers' views, merged: `health` → `services`, `functions`, `logs`.
pub(super) async fn merged(platform: &PlatformConsole, view: &str, query: Option<&str>) -> Value {
    let key = match view {
        "health" => "services",
        other => other,
    };
    let client = peer_client();
    let mut asks = tokio::task::JoinSet::new();
    for (index, peer) in platform.peers.iter().enumerate() {
        let url = match query {
            Some(query) => format!("{}{PATH}/api/{view}?{query}", peer.url),
            None => format!("{}{PATH}/api/{view}", peer.url),
        };
        let client = client.clone();
        asks.spawn(async move {
            let answer = async {
                let response = client.get(&url).send().await?.error_for_status()?;
                response.bytes().await
            }
            .await
            .map_err(|error| crate::error_chain(&error))
            .and_then(|body| serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string()));
            (index, answer)
        });
    }
    let mut answers = Vec::new();
    while let Some(Ok(answer)) = asks.join_next().await {
        answers.push(answer);
    }
    answers.sort_by_key(|(index, _)| *index);
    let redactor = &platform.console.inner.redactor;
    let mut items = Vec::new();
    for (index, answer) in answers {
        let peer = &platform.peers[index];
        match answer {
            Ok(mut value) => {
                redactor.redact_json(&mut value);
                if let Some(Value::Array(list)) = value.get_mut(key).map(Value::take) {
                    items.extend(list);
                }
            }
            Err(error) if view == "health" => items.push(json!({
                "service": peer.name,
                "status": "unreachable",
                "checks": [],
                "error": super::store::bounded(redactor, &error),
            })),
            Err(_) => {}
        }
    }
    if view == "logs" {
        items.sort_by_key(|line| std::cmp::Reverse(line["time_unix_ms"].as_u64().unwrap_or(0)));
        items.truncate(1000);
    }
    json!({ key: items })
}

fn peer_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default()
        })
        .clone()
}
