//! unified-profile (port 3001): the platform's profiles. Keeps them in an embedded
//! database (redb, in memory) by default, or in PostgreSQL when `DATABASE_URL` is set;
//! checks that database and the event bus; announces views and changes as events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use redb::{ReadableDatabase, ReadableTable};
use teei_obs::metrics::StandardMetrics;
use teei_obs::{counted, health_check, traced};
use teei_platform::bus::Bus;
use teei_platform::service::{self, Error};

const NAME: &str = "unified-profile";
const PROFILES: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("profiles");
const SEED: [(&str, &str); 3] = [
    (
        "user123",
        r#"{"id":"user123","name":"Ada Lovelace","email":"ada@example.org","skills":["mathematics","programming"]}"#,
    ),
    (
        "user456",
        r#"{"id":"user456","name":"Grace Hopper","email":"grace@example.org","skills":["compilers"]}"#,
    ),
    (
        "user789",
        r#"{"id":"user789","name":"Alan Turing","email":"alan@example.org","skills":["cryptography"]}"#,
    ),
];

/// Where profiles live.
enum Store {
    Embedded(redb::Database),
    /// A pool of connections: the health check borrows one of them too.
    Postgres(deadpool_postgres::Pool),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.system())
    }
}

/// A database failure.
#[derive(Debug)]
struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError(error.to_string())
}

impl Store {
    /// PostgreSQL at `DATABASE_URL`, or the embedded database; seeded with three profiles.
    async fn open() -> Result<Store, Error> {
        let store = match std::env::var("DATABASE_URL") {
            Ok(url) => {
                let config: tokio_postgres::Config = url.parse().map_err(|e| {
                    format!("DATABASE_URL is not a PostgreSQL connection string: {e}")
                })?;
                let manager = deadpool_postgres::Manager::from_config(
                    config,
                    tokio_postgres::NoTls,
                    deadpool_postgres::ManagerConfig {
                        recycling_method: deadpool_postgres::RecyclingMethod::Fast,
                    },
                );
                let pool = deadpool_postgres::Pool::builder(manager)
                    .max_size(8)
                    .runtime(deadpool_postgres::Runtime::Tokio1)
                    // A request waits at most this long for a connection when PostgreSQL
                    // is down, then answers 503.
                    .create_timeout(Some(Duration::from_secs(2)))
                    .wait_timeout(Some(Duration::from_secs(2)))
                    .build()
                    .map_err(|e| e.to_string())?;
                Store::Postgres(pool)
            }
            Err(_) => Store::Embedded(
                redb::Database::builder()
                    .create_with_backend(redb::backends::InMemoryBackend::new())?,
            ),
        };
        for (id, body) in SEED {
            store.insert(id, body, false).await?;
        }
        Ok(store)
    }

    fn system(&self) -> &'static str {
        match self {
            Store::Embedded(_) => "redb",
            Store::Postgres(_) => "postgresql",
        }
    }

    /// A pooled PostgreSQL connection, the table made if it is not there yet.
    async fn client(
        pool: &deadpool_postgres::Pool,
    ) -> Result<deadpool_postgres::Object, StoreError> {
        let client = pool
            .get()
            .await
            .map_err(|e| failed(format!("cannot connect to PostgreSQL: {e}")))?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
            )
            .await
            .map_err(failed)?;
        Ok(client)
    }

    async fn get(&self, id: &str) -> Result<Option<String>, StoreError> {
        match self {
            Store::Embedded(db) => {
                let read = db.begin_read().map_err(failed)?;
                let table = read.open_table(PROFILES).map_err(failed)?;
                Ok(table.get(id).map_err(failed)?.map(|v| v.value().to_owned()))
            }
            Store::Postgres(pool) => {
                let client = Store::client(pool).await?;
                let row = client
                    .query_opt("SELECT body FROM profiles WHERE id = $1", &[&id])
                    .await
                    .map_err(failed)?;
                Ok(row.map(|row| row.get(0)))
            }
        }
    }

    async fn insert(&self, id: &str, body: &str, replace: bool) -> Result<(), StoreError> {
        match self {
            Store::Embedded(db) => {
                let write = db.begin_write().map_err(failed)?;
                {
                    let mut table = write.open_table(PROFILES).map_err(failed)?;
                    if replace || table.get(id).map_err(failed)?.is_none() {
                        table.insert(id, body).map_err(failed)?;
                    }
                }
                write.commit().map_err(failed)
            }
            Store::Postgres(pool) => {
                let client = Store::client(pool).await?;
                let statement = if replace {
                    "INSERT INTO profiles (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body"
                } else {
                    "INSERT INTO profiles (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING"
                };
                client
                    .execute(statement, &[&id, &body])
                    .await
                    .map_err(failed)?;
                Ok(())
            }
        }
    }
}

#[health_check(kind = "db", name = "database", interval = "5s")]
async fn database(store: &Arc<Store>) -> Result<String, String> {
    match &**store {
        Store::Embedded(db) => {
            let read = db.begin_read().map_err(|e| e.to_string())?;
            read.open_table(PROFILES)
                .map(|_| "Database connection OK: the embedded profiles table opens".to_owned())
                .map_err(|e| e.to_string())
        }
        Store::Postgres(pool) => teei_obs::health::postgres_pool(pool).await,
    }
}

#[health_check(kind = "nats", name = "event-bus", interval = "5s")]
async fn event_bus(bus: &async_nats::Client) -> Result<String, String> {
    teei_obs::health::nats(bus).await
}

#[derive(Clone, Debug)]
struct App {
    store: Arc<Store>,
    bus: Bus,
    metrics: StandardMetrics,
}

#[counted(duration, objective(success = 99.9, latency = 0.05, within = 99))]
#[traced(kind = "client", err, fields(db.system.name = app.store.system(), db.operation.name = "SELECT", profile.id = id))]
async fn load_profile(app: &App, id: &str) -> Result<Option<String>, StoreError> {
    let started = Instant::now();
    let result = app.store.get(id).await;
    app.metrics
        .db_query("SELECT", "profiles", result.is_ok(), started.elapsed());
    result
}

#[counted(duration)]
#[traced(kind = "client", err, fields(db.system.name = app.store.system(), db.operation.name = "UPSERT", profile.id = id))]
async fn save_profile(app: &App, id: &str, body: &str) -> Result<(), StoreError> {
    let started = Instant::now();
    let result = app.store.insert(id, body, true).await;
    app.metrics
        .db_query("UPSERT", "profiles", result.is_ok(), started.elapsed());
    result
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn publish(app: &App, subject: &str, id: &str) {
    let event = serde_json::json!({ "type": subject, "id": id });
    if let Err(error) = app.bus.publish(subject, event.to_string().as_bytes()).await {
        app.metrics.error("publish", NAME);
        tracing::warn!(%error, subject, "event not published");
    }
}

async fn get_profile(State(app): State<App>, Path(id): Path<String>) -> Response {
    match load_profile(&app, &id).await {
        Ok(Some(body)) => {
            publish(&app, "profile.viewed", &id).await;
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Ok(None) => answer(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": format!("no profile {id:?}") }),
        ),
        Err(error) => {
            app.metrics.error("database", NAME);
            tracing::error!(%error, "profile lookup failed");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "error": "profile store unavailable" }),
            )
        }
    }
}

async fn put_profile(
    State(app): State<App>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut profile: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        Ok(_) => {
            return answer(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": "a profile is a JSON object" }),
            );
        }
        Err(error) => {
            return answer(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": format!("invalid JSON: {error}") }),
            );
        }
    };
    if !profile["name"].is_string() {
        return answer(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": "a profile needs a \"name\" string" }),
        );
    }
    profile["id"] = serde_json::Value::String(id.clone());
    match save_profile(&app, &id, &profile.to_string()).await {
        Ok(()) => {
            publish(&app, "profile.updated", &id).await;
            answer(StatusCode::OK, profile)
        }
        Err(error) => {
            app.metrics.error("database", NAME);
            tracing::error!(%error, "profile update failed");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "error": "profile store unavailable" }),
            )
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = Arc::new(Store::open().await?);
    let nats = service::bus_client(NAME).await?;
    let obs = teei_obs::init(
        service::config(NAME)?
            .provide(store.clone())
            .provide(nats.clone()),
    )?;
    if service::generate_ops_if_asked(&obs)? {
        return Ok(());
    }
    tracing::info!(
        database = store.system(),
        "profiles stored in {}",
        store.system()
    );
    let app = App {
        store,
        bus: teei_platform::bus::Bus::new(nats, obs.standard_metrics().clone()),
        metrics: obs.standard_metrics().clone(),
    };
    let routes = axum::Router::new()
        .route("/v1/profile/{id}", get(get_profile).put(put_profile))
        .with_state(app);
    // Its series exist before the first request (axum's router does not list its routes).
    obs.declare_routes([("GET", "/v1/profile/{id}"), ("PUT", "/v1/profile/{id}")]);
    service::serve(obs, NAME, routes).await
}
