//! `request_stacks bare|header|spin|floor|teei|peers PORT`: one hello-world handler behind one request stack,
//! on 127.0.0.1:PORT, each stack in a process of its own so that its CPU time can be read
//! from `/proc/<pid>/stat` (`benches/request_stacks.sh` runs wrk against the three):
//!
//! - `bare`: the handler alone;
//! - `header`: the handler and a constant `x-correlation-id` response header, nothing else;
//! - `spin`: the handler after `SPIN` rounds of arithmetic on one value (user-space work
//!   that touches no data beyond one stack slot);
//! - `floor`: the least a layer can do and still do what teei-obs's does (`floor.rs`);
//! - `teei`: teei-obs's request layer — HTTP metrics, correlation ID, W3C trace context,
//!   a server span at 10 % head sampling (sampled spans dropped, not exported);
//! - `peers`: what a user would assemble instead — `tower-http`'s `TraceLayer` with
//!   `tracing-opentelemetry` at 10 % sampling (sampled spans handed to a batch processor
//!   whose exporter drops them), `axum-prometheus`'s HTTP metrics, and `tower-http`'s
//!   request IDs (set and propagated).
//!
//! For `benches/memory_load.sh` also:
//!
//! - `teei-otlp PORT ENDPOINT`: teei-obs's layer at 100 % sampling, exporting over
//!   OTLP/HTTP to `ENDPOINT` (a dead port, or the receiver below);
//! - `receiver PORT`: an OTLP/HTTP receiver (teei-obs's platform console, bounded).
//!
//! Stops after 600 s.

mod floor;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing_subscriber::layer::SubscriberExt as _;

/// An exporter that drops what it is given: the peer stack pays for sampling and batching,
/// not for a network, as teei-obs's does here.
#[derive(Debug)]
struct Dropping;

impl SpanExporter for Dropping {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

/// The bare handler, after `SPIN` rounds of arithmetic on one value per request (no data
/// beyond the stack slot `black_box` keeps it in): user-space work alone, to tell whether
/// the kernel's share per request grows with any user-space work or with what that work
/// touches.
fn spin() -> Router {
    let rounds: u64 = std::env::var("SPIN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    Router::new().route(
        "/",
        get(move || async move {
            let mut x = std::hint::black_box(rounds);
            for _ in 0..rounds {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            std::hint::black_box(x);
            "hello"
        }),
    )
}

fn hello() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// The bare handler plus the one thing any request-ID stack must add to every response:
/// a 36-character `x-correlation-id` header (a constant here), to tell what those bytes
/// cost (kernel, loopback, wrk's parser) from a layer's own work.
fn header_only() -> Router {
    hello().layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
        axum::http::HeaderName::from_static("x-correlation-id"),
        axum::http::HeaderValue::from_static("0f8fad5b-d9cb-469f-a165-70867728950e"),
    ))
}

fn peers() -> Router {
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            0.1,
        ))))
        .with_span_processor(BatchSpanProcessor::builder(Dropping).build())
        .build();
    let tracer = provider.tracer("request_stacks");
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    std::mem::forget(provider);
    let (metrics, handle) = axum_prometheus::PrometheusMetricLayer::pair();
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    hello()
        .route("/metrics", get(move || async move { handle.render() }))
        .layer(metrics)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(
            request_id.clone(),
        ))
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            request_id,
            tower_http::request_id::MakeRequestUuid,
        ))
}

fn teei() -> Router {
    let mut config = teei_obs::Config::new("stacks")
        .environment("production") // 10 % head sampling, no console
        .log_filter("info")
        .trace_export(teei_obs::config::TraceExport::None)
        .opentelemetry_api(std::env::var_os("NO_OTEL_API").is_none());
    // To see what the sampled tenth costs: every request unsampled.
    if std::env::var_os("UNSAMPLED").is_some() {
        config = config.sampler(teei_obs::trace::Sampler::AlwaysOff);
    }
    let obs = teei_obs::init(config).expect("init");
    let app = hello().layer(obs.request_layer());
    app.merge(obs.router())
}

fn teei_otlp(endpoint: &str) -> Router {
    let obs = teei_obs::init(
        teei_obs::Config::new("stacks")
            .environment("production")
            .console(false)
            .log_filter("warn")
            .sampler(teei_obs::trace::Sampler::AlwaysOn)
            .trace_export(teei_obs::config::TraceExport::Otlp {
                endpoint: format!("{endpoint}/v1/traces"),
                protocol: teei_obs::config::Protocol::HttpProtobuf,
            }),
    )
    .expect("init");
    let app = hello().layer(obs.request_layer());
    app.merge(obs.router())
}

fn receiver() -> Router {
    teei_obs::console::Console::platform(
        teei_obs::redact::Redactor::default(),
        teei_obs::console::ConsoleLimits::default(),
        Vec::new(),
    )
    .router()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: request_stacks bare|header|spin|floor|teei|peers|receiver PORT, or teei-otlp PORT ENDPOINT";
    let stack = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let app = match stack.as_str() {
        "bare" => hello(),
        "header" => header_only(),
        "spin" => spin(),
        "floor" => hello().layer(floor::layer()),
        "teei" => teei(),
        "peers" => peers(),
        "receiver" => receiver(),
        "teei-otlp" => teei_otlp(&args.next().ok_or(usage)?),
        _ => return Err(usage.into()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(tokio::time::sleep(Duration::from_secs(600)))
        .await?;
    Ok(())
}
