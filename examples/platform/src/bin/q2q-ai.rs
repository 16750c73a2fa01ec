//! q2q-ai (port 3005): turns qualitative feedback into quantitative signals
//! (`POST /v1/classify` with text). The "model" is a small keyword scorer standing in for
//! the ML model the TypeScript platform planned; its inference is `#[counted]` with
//! latency buckets fitted to it, and a custom health check says whether it is loaded.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use teei_obs::health::CheckOutcome;
use teei_obs::{counted, health_check, traced};
use teei_platform::service::{self, Error};

const NAME: &str = "q2q-ai";

/// Weighted keywords per label.
#[derive(Debug)]
struct Model {
    labels: Vec<(&'static str, Vec<&'static str>)>,
}

impl Model {
    fn load() -> Model {
        Model {
            labels: vec![
                (
                    "confidence",
                    vec!["confident", "able", "proud", "ready", "learned"],
                ),
                (
                    "belonging",
                    vec!["welcome", "team", "friends", "included", "together"],
                ),
                (
                    "concern",
                    vec!["worried", "lost", "alone", "stuck", "difficult"],
                ),
            ],
        }
    }
}

#[health_check(kind = "custom", name = "model", interval = "10s")]
async fn model(model: &Arc<Model>) -> CheckOutcome {
    if model.labels.is_empty() {
        CheckOutcome::Unhealthy("no model loaded".into())
    } else {
        CheckOutcome::Healthy
    }
}

#[derive(Debug, serde::Serialize)]
struct Classification {
    label: &'static str,
    score: f64,
}

#[counted(duration, buckets = [0.00001, 0.0001, 0.001, 0.01, 0.1])]
#[traced(fields(text.chars = text.chars().count()))]
fn classify(model: &Model, text: &str) -> Classification {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let total = words.len().max(1) as f64;
    model
        .labels
        .iter()
        .map(|(label, keywords)| {
            let hits = words
                .iter()
                .filter(|w| keywords.contains(&w.as_str()))
                .count();
            Classification {
                label,
                score: hits as f64 / total,
            }
        })
        .filter(|c| c.score > 0.0)
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .unwrap_or(Classification {
            label: "neutral",
            score: 0.0,
        })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let model = Arc::new(Model::load());
    let obs = teei_obs::init(service::config(NAME)?.provide(model.clone()))?;
    if service::generate_ops_if_asked(&obs)? {
        return Ok(());
    }
    let routes = axum::Router::new()
        .route(
            "/v1/classify",
            post(|State(model): State<Arc<Model>>, text: String| async move {
                axum::Json(classify(&model, &text))
            }),
        )
        .with_state(model);
    service::serve(obs, NAME, routes).await
}
