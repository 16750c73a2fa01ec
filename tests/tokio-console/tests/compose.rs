//! A service that runs tokio-console's `console-subscriber` adds teei-obs's layers to the
//! same registry (`Obs::layers`, `Config::install_subscriber(false)`), and both work:
//!
//! - tokio-console's gRPC API (read here with its own client, `console-api`, as the
//!   `tokio-console` program reads it) lists the service's named task, spawned where it was;
//! - teei-obs exports the `#[traced]` span inside that task and writes its log line with
//!   the trace ID — and records none of Tokio's own `runtime.*` task spans, which exist
//!   only for tokio-console.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;
use teei_obs::config::TraceExport;
use teei_obs::trace::Sampler;
use tracing_subscriber::layer::SubscriberExt;

#[teei_obs::traced]
async fn settle(invoice: u32) -> u32 {
    tracing::info!(invoice, "settling");
    tokio::time::sleep(Duration::from_millis(5)).await;
    invoice * 100
}

fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The tasks tokio-console's API reports, as text, once one of them mentions `name`
/// (within `within`).
async fn console_task(addr: SocketAddr, name: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut client = loop {
        match InstrumentClient::connect(format!("http://{addr}")).await {
            Ok(client) => break client,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "tokio-console's API on {addr}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let mut updates = client
        .watch_updates(InstrumentRequest {})
        .await
        .expect("watch_updates")
        .into_inner();
    let mut seen = String::new();
    while Instant::now() < deadline {
        let update = tokio::time::timeout(Duration::from_secs(2), updates.message()).await;
        let Ok(Ok(Some(update))) = update else {
            continue;
        };
        for task in update.task_update.into_iter().flat_map(|u| u.new_tasks) {
            let text = format!("{task:?}");
            if text.contains(name) {
                return text;
            }
            seen.push_str(&text);
            seen.push('\n');
        }
    }
    panic!("tokio-console never listed a task named {name}; it listed:\n{seen}");
}

#[test]
fn tokio_console_and_teei_obs_share_one_registry() {
    let obs = teei_obs::init(
        teei_obs::Config::new("console-compose")
            .install_subscriber(false)
            .sampler(Sampler::AlwaysOn)
            .trace_export(TraceExport::Memory)
            .capture_logs(true),
    )
    .expect("init");
    let console_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let console = console_subscriber::ConsoleLayer::builder()
        .server_addr(console_addr)
        .spawn();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(console)
            .with(obs.layers()),
    )
    .expect("the only global subscriber");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let block_starts = line!();
    let task = runtime.block_on(async {
        let (done, finish) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::task::Builder::new()
            .name("settle-invoices")
            .spawn(async move {
                let settled = settle(7).await;
                // Alive until tokio-console has listed it.
                let _ = finish.await;
                settled
            })
            .expect("spawn");
        let listed = console_task(console_addr, "settle-invoices", Duration::from_secs(20)).await;
        let _ = done.send(());
        assert_eq!(task.await.expect("the task"), 700);
        listed
    });
    // Where it was spawned, as tokio-console shows it: the `spawn` call a few lines down.
    assert!(task.contains(r#"file: Some("tests/compose.rs")"#), "{task}");
    let line: u32 = task
        .split("line: Some(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no spawn line: {task}"));
    assert!(
        (block_starts..block_starts + 10).contains(&line),
        "spawned at line {line}, not in the block at {block_starts}: {task}"
    );

    obs.flush().expect("flush");
    let spans = obs.recent_spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        ["settle"],
        "teei-obs records the traced function and none of Tokio's task spans"
    );
    let trace_id = spans[0].span_context.trace_id().to_string();
    let logs = obs.recent_logs();
    let settling = logs
        .iter()
        .find(|line| line.contains("settling"))
        .unwrap_or_else(|| panic!("no log line for the event: {logs:#?}"));
    assert!(settling.contains(&trace_id), "{settling}");
}
