//! A local HTTP endpoint used as a Sentry DSN, so the real Sentry transport runs and its
//! envelopes can be read back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Every item the endpoint received: `(item type, payload as JSON)`.
#[derive(Clone, Debug, Default)]
pub struct Envelopes(Arc<Mutex<Vec<(String, serde_json::Value)>>>);

impl Envelopes {
    /// The `event` items received so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(kind, _)| kind == "event")
            .map(|(_, payload)| payload.clone())
            .collect()
    }

    /// Every payload, as text, to search for leaks.
    pub fn raw(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, payload)| payload.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Parses a Sentry envelope: a header line, then item header and payload lines.
fn parse(body: &[u8]) -> Vec<(String, serde_json::Value)> {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.lines().skip(1);
    let mut items = Vec::new();
    while let Some(header) = lines.next() {
        let Ok(header) = serde_json::from_str::<serde_json::Value>(header) else {
            continue;
        };
        let kind = header["type"].as_str().unwrap_or_default().to_owned();
        let payload = lines.next().unwrap_or_default();
        let payload =
            serde_json::from_str(payload).unwrap_or(serde_json::Value::String(payload.to_owned()));
        items.push((kind, payload));
    }
    items
}

/// Starts the endpoint; returns the DSN to hand to teei-obs and what it receives.
pub fn start() -> (String, Envelopes) {
    let envelopes = Envelopes::default();
    let store = envelopes.clone();
    let router = axum::Router::new().route(
        "/api/{project}/envelope/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                store.0.lock().unwrap().extend(parse(&body));
                "{}"
            }
        }),
    );
    // A runtime of its own: it outlives the test (and its runtime) that started it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr: SocketAddr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("endpoint runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, router).await.expect("endpoint");
        });
    });
    (format!("http://public@{addr}/1"), envelopes)
}

/// A service reporting to a fresh endpoint: every root sampled, log lines kept in memory as
/// JSON (`Obs::recent_logs`), `init`'s global subscriber installed or not.
pub fn observed(service: &str, install_subscriber: bool) -> (teei_obs::Obs, Envelopes) {
    let (dsn, envelopes) = start();
    let obs = teei_obs::init(
        teei_obs::Config::new(service)
            .sampler(teei_obs::trace::Sampler::AlwaysOn)
            .install_subscriber(install_subscriber)
            .capture_logs(true)
            .log_format(teei_obs::log::LogFormat::Json)
            .sentry_dsn(&dsn)
            .expect("the endpoint's DSN"),
    )
    .expect("init");
    (obs, envelopes)
}
