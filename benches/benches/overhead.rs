//! Per-call cost of an annotated function against a bare call, a raw atomic add and the
//! peer crates, all in one run so the ratios compare like with like.
//!
//!   cargo bench --manifest-path benches/Cargo.toml && python3 benches/report.py

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use teei_obs::counted;

#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x) + 1
}

static CALLS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn atomic_add(x: u64) -> u64 {
    CALLS.fetch_add(1, Ordering::Relaxed);
    black_box(x) + 1
}

#[counted]
#[inline(never)]
fn counted_plain(x: u64) -> u64 {
    black_box(x) + 1
}

#[counted(duration)]
#[inline(never)]
fn counted_duration(x: u64) -> u64 {
    black_box(x) + 1
}

#[counted(concurrent)]
#[inline(never)]
fn counted_concurrent(x: u64) -> u64 {
    black_box(x) + 1
}

#[autometrics::autometrics]
#[inline(never)]
fn autometrics_fn(x: u64) -> u64 {
    black_box(x) + 1
}

#[inline(never)]
fn prometheus_counter(counter: &prometheus::IntCounter, x: u64) -> u64 {
    counter.inc();
    black_box(x) + 1
}

#[inline(never)]
fn prometheus_with_labels(counter: &prometheus::IntCounterVec, x: u64) -> u64 {
    counter.with_label_values(&["handler", "app", "ok"]).inc();
    black_box(x) + 1
}

#[inline(never)]
fn metrics_counter(x: u64) -> u64 {
    metrics::counter!("calls_total", "function" => "handler", "result" => "ok").increment(1);
    black_box(x) + 1
}

fn per_call(c: &mut Criterion) {
    let _obs = teei_obs::init(teei_obs::Config::new("bench")).expect("registry");
    autometrics::prometheus_exporter::init();
    // Without a recorder `counter!` is a no-op; measure it as a service would run it.
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("no other `metrics` recorder installed");
    let counter = prometheus::IntCounter::new("plain_total", "x").unwrap();
    let vec = prometheus::IntCounterVec::new(
        prometheus::Opts::new("labelled_total", "x"),
        &["function", "module", "result"],
    )
    .unwrap();

    let mut group = c.benchmark_group("per_call");
    group.bench_function("bare", |b| b.iter(|| bare(black_box(1))));
    group.bench_function("atomic_add", |b| b.iter(|| atomic_add(black_box(1))));
    group.bench_function("counted", |b| b.iter(|| counted_plain(black_box(1))));
    group.bench_function("counted_duration", |b| {
        b.iter(|| counted_duration(black_box(1)))
    });
    group.bench_function("counted_concurrent", |b| {
        b.iter(|| counted_concurrent(black_box(1)))
    });
    group.bench_function("prometheus_int_counter", |b| {
        b.iter(|| prometheus_counter(&counter, black_box(1)))
    });
    group.bench_function("prometheus_with_label_values", |b| {
        b.iter(|| prometheus_with_labels(&vec, black_box(1)))
    });
    group.bench_function("metrics_counter", |b| {
        b.iter(|| metrics_counter(black_box(1)))
    });
    group.bench_function("autometrics", |b| b.iter(|| autometrics_fn(black_box(1))));
    group.finish();
}

/// Wall time per call when two threads each make `iters` calls at once.
fn two_threads(iters: u64, call: fn(u64) -> u64) -> Duration {
    let barrier = std::sync::Barrier::new(2);
    let start = std::sync::OnceLock::new();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                // Claim the thread's row before timing starts.
                black_box(call(0));
                barrier.wait();
                let _ = start.set(Instant::now());
                for i in 0..iters {
                    black_box(call(black_box(i)));
                }
            });
        }
    });
    start.get().expect("set").elapsed()
}

fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("two_threads");
    group.bench_function("atomic_add", |b| {
        b.iter_custom(|iters| two_threads(iters, atomic_add))
    });
    group.bench_function("counted", |b| {
        b.iter_custom(|iters| two_threads(iters, counted_plain))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = per_call, contended
}
criterion_main!(benches);
