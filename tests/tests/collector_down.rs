//! The collector failing never fails the service: spans are dropped and counted while it is
//! down, export resumes when it comes back, and shutdown keeps its bound.

use std::time::{Duration, Instant};

use teei_obs::config::{Protocol, TraceExport};
use teei_obs::trace::Sampler;
use teei_obs::traced;
use teei_obs_tests::otlp::{free_port, grpc_receiver};
use teei_obs_tests::{rss_kib, sample};
use tracing_subscriber::layer::SubscriberExt;

#[traced]
fn while_down(i: u64) -> u64 {
    i
}

#[traced]
fn after_recovery(i: u64) -> u64 {
    i
}

const CAPACITY: usize = 256;

fn config(addr: std::net::SocketAddr) -> teei_obs::Config {
    teei_obs::Config::new("collector-down")
        .sampler(Sampler::AlwaysOn)
        .install_subscriber(false)
        .span_queue_capacity(CAPACITY)
        .export_interval(Duration::from_millis(50))
        .export_timeout(Duration::from_millis(500))
        .shutdown_timeout(Duration::from_secs(2))
        .trace_export(TraceExport::Otlp {
            endpoint: format!("http://{addr}"),
            protocol: Protocol::Grpc,
        })
}

fn dropped(text: &str) -> f64 {
    ["queue_full", "export_failed", "shutdown"]
        .iter()
        .map(|reason| {
            sample(
                text,
                &format!(r#"teei_obs_spans_dropped_total{{reason="{reason}"}}"#),
            )
            .unwrap_or(0.0)
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_dropped_and_counted_while_down_and_export_resumes_when_it_returns() {
    // One test body, both wirings: `init`'s fast subscriber and a `Registry` with the layers.
    for wiring in teei_obs_tests::Wiring::BOTH {
        collector_down_and_back(wiring).await;
    }
}

async fn collector_down_and_back(wiring: teei_obs_tests::Wiring) {
    let addr = free_port();
    let obs = teei_obs::init(config(addr)).unwrap();
    let dispatch = wiring.dispatch(&obs);

    let before = rss_kib();
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..10_000 {
            std::hint::black_box(while_down(i));
        }
    });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "producing never waits for the collector"
    );
    // Let the export thread fail on what it took.
    obs.flush().unwrap();
    let text = obs.render_metrics();
    let queued = sample(&text, "teei_obs_span_queue_length").unwrap();
    let exported = sample(&text, "teei_obs_spans_exported_total").unwrap();
    assert_eq!(exported, 0.0);
    assert!(queued <= CAPACITY as f64, "{queued}");
    assert_eq!(
        dropped(&text) + queued,
        10_000.0,
        "every span is exported, queued or counted:\n{text}"
    );
    assert!(sample(&text, "teei_obs_span_export_failures_total").unwrap() >= 1.0);
    let growth = rss_kib().saturating_sub(before);
    assert!(growth < 64 * 1024, "memory grew by {growth} KiB");

    let received = grpc_receiver(addr).await;
    // Keep producing (bounded) until spans arrive: the exporter reconnects on its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut arrived = Vec::new();
    let mut round = 0;
    while arrived.is_empty() && Instant::now() < deadline {
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..10 {
                after_recovery(round * 10 + i);
            }
        });
        round += 1;
        let _ = obs.flush();
        arrived = received
            .wait_for(Duration::from_millis(300), |spans| {
                spans.iter().any(|s| s.span.name == "after_recovery")
            })
            .await
            .into_iter()
            .filter(|s| s.span.name == "after_recovery")
            .collect();
    }
    assert!(
        !arrived.is_empty(),
        "spans arrive once the collector is back"
    );
    assert!(obs.shutdown().is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_keeps_its_bound_on_a_current_thread_runtime_when_the_collector_hangs() {
    // A "collector" that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let obs = teei_obs::init(
        config(addr)
            .export_timeout(Duration::from_secs(30))
            .shutdown_timeout(Duration::from_millis(800)),
    )
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(obs.span_layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..100 {
            while_down(i);
        }
    });
    let started = Instant::now();
    let result = obs.shutdown();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    assert!(
        result.is_err(),
        "the export could not finish and shutdown says so"
    );
    drop(listener);
}
