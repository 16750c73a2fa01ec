//! Where the services listen, and the few lines every service's `main` shares.

use std::time::Duration;

/// The seven services, in the order of their ports (3000 to 3006 by default).
pub const SERVICES: [&str; 7] = [
    "api-gateway",
    "unified-profile",
    "kintell-connector",
    "buddy-service",
    "upskilling-connector",
    "q2q-ai",
    "safety-moderation",
];

/// The environment variable that moves all seven ports (default `3000`).
pub const BASE_PORT_VAR: &str = "PLATFORM_BASE_PORT";

/// An error for a service's `main`.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The first port: `PLATFORM_BASE_PORT`, or 3000.
pub fn base_port() -> Result<u16, Error> {
    match std::env::var(BASE_PORT_VAR) {
        Ok(value) => match value.parse::<u16>() {
            Ok(port) if port <= u16::MAX - SERVICES.len() as u16 => Ok(port),
            _ => Err(format!(
                "{BASE_PORT_VAR} must be a port from 0 to {}, not {value:?}",
                u16::MAX - SERVICES.len() as u16
            )
            .into()),
        },
        Err(std::env::VarError::NotPresent) => Ok(3000),
        Err(error) => Err(format!("{BASE_PORT_VAR}: {error}").into()),
    }
}

/// The port of `service` (one of [`SERVICES`]).
///
/// # Panics
///
/// When `service` is not one of the seven: a programming error.
pub fn port(base: u16, service: &str) -> u16 {
    let index = SERVICES
        .iter()
        .position(|known| *known == service)
        .unwrap_or_else(|| panic!("{service:?} is not a platform service"));
    base + index as u16
}

/// `http://127.0.0.1:{port}{path}` for `service` (`http://{service}:{port}{path}` with
/// `PLATFORM_SERVICE_DNS=true`, as in the generated Kubernetes manifests).
pub fn url(base: u16, service: &str, path: &str) -> String {
    let host = if std::env::var(SERVICE_DNS_VAR).as_deref() == Ok("true") {
        service
    } else {
        "127.0.0.1"
    };
    format!("http://{host}:{}{path}", port(base, service))
}

/// The configuration every service starts from: the environment (`OTEL_*`, `SENTRY_DSN`,
/// `LOG_FORMAT`, `RUST_LOG`, …) under the service's own name and this crate's version,
/// with a short drain on shutdown so the platform stops promptly.
pub fn config(service: &str) -> Result<teei_obs::Config, Error> {
    Ok(teei_obs::config!()?
        .service_name(service)
        .drain_delay(Duration::from_millis(300)))
}

/// The examples' convention for generated operations files: with `--generate-ops DIR` on
/// the command line, writes the service's Grafana dashboards, provisioning, Prometheus
/// alert rules and Kubernetes manifests under `DIR` and returns `true` — the caller exits
/// instead of serving. In the cluster a service listens on all addresses at its platform
/// port and finds the others by their Service names.
pub fn generate_ops_if_asked(obs: &teei_obs::Obs) -> Result<bool, Error> {
    let mut args = std::env::args_os().skip_while(|arg| arg != "--generate-ops");
    if args.next().is_none() {
        return Ok(false);
    }
    let dir = args.next().ok_or("--generate-ops needs a directory")?;
    let name = obs.service_name();
    let mut generator = teei_obs::ops::Generator::new(obs);
    // The generator reads no environment: where runbook links point is ours to say.
    if let Ok(base) = std::env::var(teei_obs::ops::RUNBOOK_BASE_VAR) {
        generator = generator.runbook_base(&base);
    }
    let written = generator
        .port(port(base_port()?, name))
        .image(&format!(
            "teei-platform/{name}:{}",
            env!("CARGO_PKG_VERSION")
        ))
        .env(LISTEN_ADDR_VAR, "0.0.0.0")
        .env(SERVICE_DNS_VAR, "true")
        .env("NATS_URL", "nats://nats:4222")
        .write(std::path::Path::new(&dir))?;
    println!("{name}: wrote {} files", written.len());
    Ok(true)
}

/// The address the services listen on (default `127.0.0.1`; `0.0.0.0` in a pod).
pub const LISTEN_ADDR_VAR: &str = "PLATFORM_LISTEN_ADDR";

/// `true`: a service reaches the others at `http://<service>:<port>` (Kubernetes Service
/// names) instead of `127.0.0.1`.
pub const SERVICE_DNS_VAR: &str = "PLATFORM_SERVICE_DNS";

/// Serves `routes` (behind the teei-obs layer) plus `/metrics` and the four health
/// endpoints on 127.0.0.1 at the service's port, until SIGTERM or Ctrl-C; then drains and
/// flushes spans and errors.
pub async fn serve(obs: teei_obs::Obs, service: &str, routes: axum::Router) -> Result<(), Error> {
    let port = port(base_port()?, service);
    let host = std::env::var(LISTEN_ADDR_VAR).unwrap_or_else(|_| "127.0.0.1".to_owned());
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| format!("{service}: cannot listen on {host}:{port}: {e}"))?;
    tracing::info!(
        port,
        functions = obs.registry_entry_count(),
        "{service} listening on http://127.0.0.1:{port}"
    );
    let app = obs.router().merge(routes.layer(obs.request_layer()));
    axum::serve(obs.listener(listener), app)
        .with_graceful_shutdown(obs.shutdown_signal())
        .await?;
    obs.shutdown()?;
    Ok(())
}

/// The event bus client from `NATS_URL` (`nats://host:port`: a real NATS server or the
/// broker the `platform` binary embeds): connecting in the background and reconnecting by
/// itself, so a health check can take it as its state before the server answers.
pub async fn bus_client(service: &str) -> Result<async_nats::Client, Error> {
    let url = std::env::var("NATS_URL").map_err(|_| {
        "NATS_URL is not set: start the services with the `platform` binary, which embeds a broker, or point NATS_URL at a NATS server"
    })?;
    let client = crate::bus::client(&url, service).await?;
    // Give a server that is up the moment to answer, so the first check finds it
    // connected; one that is down is the check's to report.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client.connection_state() != async_nats::connection::State::Connected
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(client)
}
