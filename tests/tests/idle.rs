//! An idle service costs next to nothing: with OTLP export configured (a real OTLP/HTTP
//! receiver on loopback), a health check registered and its routes served, the process
//! wakes fewer than 50 times a second and uses well under 1 % of a core while nothing
//! happens. Measured from `/proc` (every thread's context switches, the process's CPU
//! time) over 5 s, after a second to settle; run in release by `scripts/test`, and it
//! prints what it measured. The export thread sleeps with no timer while nothing is
//! pending, so the span that ends the idle spell must wake it and still be exported
//! within the export interval.

use std::time::{Duration, Instant};

use teei_obs::config::{Protocol, TraceExport};
use teei_obs::health_check;
use teei_obs_tests::otlp::{free_port, http_receiver};
use teei_obs_tests::serve;

#[health_check(kind = "cache", interval = "10s", timeout = "1s")]
async fn cache() -> Result<(), String> {
    Ok(())
}

/// Context switches of every thread of this process (each is a wake-up or a preemption).
fn switches() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let status =
            std::fs::read_to_string(task.unwrap().path().join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(n) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += n.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

/// User plus system CPU time of the process, in clock ticks (1/100 s here).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_service_wakes_fewer_than_50_times_a_second() {
    let receiver = free_port();
    let received = http_receiver(receiver).await;
    let obs = teei_obs::init(
        teei_obs::Config::new("idle")
            .install_subscriber(false)
            .sampler(teei_obs::trace::Sampler::AlwaysOn)
            .export_interval(Duration::from_millis(500))
            .trace_export(TraceExport::Otlp {
                endpoint: format!("http://{receiver}/v1/traces"),
                protocol: Protocol::HttpProtobuf,
            }),
    )
    .unwrap();
    let _addr = serve(obs.router()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let window = Duration::from_secs(5);
    let (switches_before, cpu_before, started) = (switches(), cpu_ticks(), Instant::now());
    tokio::time::sleep(window).await;
    let seconds = started.elapsed().as_secs_f64();
    let wakeups = (switches() - switches_before) as f64 / seconds;
    let cpu = (cpu_ticks() - cpu_before) as f64 / 100.0 / seconds * 100.0;
    println!("idle service: {wakeups:.1} wake-ups/s, {cpu:.3} % of a core over {seconds:.1} s");
    assert!(wakeups < 50.0, "{wakeups:.1} wake-ups a second while idle");
    assert!(cpu < 1.0, "{cpu:.3} % of a core while idle");

    // The first span after idling wakes the export thread: exported within the interval
    // (500 ms) and some slack, not after the idle sleep's 60 s bound.
    let sent = Instant::now();
    tracing::subscriber::with_default(obs.subscriber(), || {
        let _span = tracing::info_span!("after idle").entered();
    });
    let spans = received
        .wait_for(Duration::from_secs(5), |spans| {
            spans.iter().any(|span| span.span.name == "after idle")
        })
        .await;
    assert!(
        spans.iter().any(|span| span.span.name == "after idle"),
        "the span after the idle spell was not exported within 5 s"
    );
    println!("first span after idling exported in {:?}", sent.elapsed());
    obs.shutdown().unwrap();
}
