//! Per-call cost of an annotated function against a bare call, a raw atomic add and the
//! peer crates, all in one run so the ratios compare like with like.
//!
//!   cargo bench --manifest-path benches/Cargo.toml && python3 benches/report.py

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use teei_obs::{counted, traced};
use tracing_subscriber::layer::SubscriberExt;

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
    let _obs = teei_obs::init(
        teei_obs::Config::new("bench")
            .install_metrics_recorder(false)
            .install_subscriber(false)
            .trace_export(teei_obs::config::TraceExport::None),
    )
    .expect("registry");
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

#[traced]
#[inline(never)]
fn traced_fn(x: u64) -> u64 {
    black_box(x) + 1
}

/// `err` that returns `Ok`: the same span, plus what `err` does on success (it drops
/// whatever its callees reported: one relaxed load while nothing is pending).
#[traced(err)]
#[inline(never)]
fn traced_err_ok_fn(x: u64) -> Result<u64, std::io::Error> {
    Ok(black_box(x) + 1)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn instrumented_fn(x: u64) -> u64 {
    black_box(x) + 1
}

#[fastrace::trace]
#[inline(never)]
fn fastrace_fn(x: u64) -> u64 {
    black_box(x) + 1
}

/// An exporter that accepts and forgets: what is measured is the span machinery.
#[derive(Debug)]
struct Noop;

impl opentelemetry_sdk::trace::SpanExporter for Noop {
    async fn export(
        &self,
        _: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

struct DropReports;

impl fastrace::collector::Reporter for DropReports {
    fn report(&mut self, spans: Vec<fastrace::prelude::SpanRecord>) {
        black_box(spans);
    }
}

fn obs_with(sampler: teei_obs::trace::Sampler) -> teei_obs::Obs {
    teei_obs::init(
        teei_obs::Config::new("bench")
            .install_metrics_recorder(false)
            .install_subscriber(false)
            .sampler(sampler)
            .export_interval(Duration::from_millis(100))
            .span_queue_capacity(65_536)
            .span_exporter(|| Noop),
    )
    .expect("init")
}

fn otel_provider(ratio: f64) -> opentelemetry_sdk::trace::SdkTracerProvider {
    opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
            opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(ratio),
        )))
        .with_batch_exporter(Noop)
        .build()
}

fn spans(c: &mut Criterion) {
    use teei_obs::trace::{Root, Sampler};
    let mut group = c.benchmark_group("span");
    group.bench_function("bare", |b| b.iter(|| bare(black_box(1))));
    group.bench_function("traced_no_subscriber", |b| {
        b.iter(|| traced_fn(black_box(1)))
    });

    let filtered = teei_obs::init(
        teei_obs::Config::new("bench")
            .install_metrics_recorder(false)
            .install_subscriber(false)
            .log_filter("warn")
            .traces_filter("warn")
            .span_exporter(|| Noop),
    )
    .expect("init");
    tracing::subscriber::with_default(filtered.subscriber(), || {
        group.bench_function("traced_filtered_by_level", |b| {
            b.iter(|| traced_fn(black_box(1)))
        });
    });

    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        group.bench_function("registry_only", |b| b.iter(|| traced_fn(black_box(1))));
    });

    let unsampled = obs_with(Sampler::ParentBased(Root::AlwaysOff));
    tracing::subscriber::with_default(unsampled.subscriber(), || {
        group.bench_function("traced_unsampled_scoped", |b| {
            b.iter(|| traced_fn(black_box(1)))
        });
    });
    let subscriber = tracing_subscriber::registry().with(unsampled.span_layer());
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("traced_unsampled_layer_on_registry", |b| {
            b.iter(|| traced_fn(black_box(1)))
        });
    });

    // The composed path: every teei-obs sink as layers on a Registry (`obs.layers()`).
    let subscriber = tracing_subscriber::registry().with(unsampled.layers());
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("traced_unsampled_composed", |b| {
            b.iter(|| traced_fn(black_box(1)))
        });
    });

    let sampled = obs_with(Sampler::AlwaysOn);
    tracing::subscriber::with_default(sampled.subscriber(), || {
        group.bench_function("traced_sampled_exported", |b| {
            b.iter(|| traced_fn(black_box(1)))
        });
    });
    let subscriber = tracing_subscriber::registry().with(sampled.span_layer());
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("traced_sampled_layer_on_registry", |b| {
            b.iter(|| traced_fn(black_box(1)))
        });
    });
    let subscriber = tracing_subscriber::registry().with(sampled.layers());
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("traced_sampled_composed", |b| {
            b.iter(|| traced_fn(black_box(1)))
        });
    });
    let _ = sampled.flush();
    let text = sampled.render_metrics();
    eprintln!(
        "traced_sampled_exported: {}",
        text.lines()
            .filter(|l| l.starts_with("teei_obs_spans"))
            .collect::<Vec<_>>()
            .join("; ")
    );

    for (name, ratio) in [
        ("instrument_otel_sampled", 1.0),
        ("instrument_otel_10_percent", 0.1),
    ] {
        let provider = otel_provider(ratio);
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function(name, |b| b.iter(|| instrumented_fn(black_box(1))));
        });
        let _ = provider.shutdown();
    }

    fastrace::set_reporter(DropReports, fastrace::collector::Config::default());
    // A root per 256 calls: fastrace keeps a bounded number of spans per root and drops
    // the rest cheaply, so one endless root would measure dropping.
    group.bench_function("fastrace_sampled", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            let mut done = 0;
            while done < iters {
                let root = fastrace::Span::root("root", fastrace::prelude::SpanContext::random());
                let _guard = root.set_local_parent();
                for _ in 0..256.min(iters - done) {
                    black_box(fastrace_fn(black_box(1)));
                }
                done += 256.min(iters - done);
            }
            started.elapsed()
        })
    });
    // Last, as `init` runs it: the global default (set once per process).
    tracing::subscriber::set_global_default(unsampled.subscriber()).expect("first global");
    group.bench_function("traced_unsampled", |b| b.iter(|| traced_fn(black_box(1))));
    group.bench_function("traced_err_ok_unsampled", |b| {
        b.iter(|| traced_err_ok_fn(black_box(1)))
    });
    // The same call inside an entered span: a child copies its parent's ancestors.
    group.bench_function("traced_unsampled_nested", |b| {
        let parent = tracing::info_span!("parent");
        let _entered = parent.enter();
        b.iter(|| traced_fn(black_box(1)))
    });
    group.finish();
}

fn logs(c: &mut Criterion) {
    let obs = teei_obs::init(
        teei_obs::Config::new("bench")
            .install_metrics_recorder(false)
            .install_subscriber(false)
            .environment("production")
            .capture_logs(true)
            .trace_export(teei_obs::config::TraceExport::None),
    )
    .expect("init");
    let mut group = c.benchmark_group("log");
    tracing::subscriber::with_default(obs.subscriber(), || {
        group.bench_function("json_line", |b| {
            b.iter(|| tracing::info!(user_id = 42, route = "/orders", "order placed"))
        });
        group.bench_function("json_line_with_secrets", |b| {
            b.iter(|| {
                tracing::info!(
                    email = "jane.doe@example.com",
                    password = "hunter2",
                    note = "card 4111 1111 1111 1111 on file",
                    "order placed"
                )
            })
        });
        group.bench_function("filtered_out", |b| {
            b.iter(|| tracing::debug!(user_id = 42, "not written"))
        });
    });
    let policy = teei_obs::redact::Redactor::default();
    let clean = "GET /orders/42 answered 200 in 12 ms for tenant acme, region eu-west, shard 7 ok";
    let dirty = "GET /orders/42 answered 200 in 12 ms for jane.doe@example.com, region eu-west ok";
    group.bench_function("redact_text_clean_80_chars", |b| {
        b.iter(|| black_box(policy.redact_text(black_box(clean)).len()))
    });
    group.bench_function("redact_text_email_80_chars", |b| {
        b.iter(|| black_box(policy.redact_text(black_box(dirty)).len()))
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let obs = teei_obs::init(
        teei_obs::Config::new("bench")
            .install_metrics_recorder(false)
            .install_subscriber(false)
            .trace_export(teei_obs::config::TraceExport::None),
    )
    .expect("init");
    let series = prometheus::IntCounterVec::new(
        prometheus::Opts::new("bench_requests_total", "10,000 series"),
        &["route", "status"],
    )
    .unwrap();
    for route in 0..1_000 {
        for status in 0..10 {
            series
                .with_label_values(&[&format!("/route/{route}"), &format!("{}", 200 + status)])
                .inc();
        }
    }
    obs.registry().register(Box::new(series)).unwrap();
    let lines = obs
        .render_metrics()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    eprintln!("render: {lines} series in the exposition");
    let mut group = c.benchmark_group("render");
    group.bench_function("metrics_10k_series", |b| {
        b.iter(|| black_box(obs.render_metrics().len()))
    });
    group.finish();
}

/// One request through `Obs::request_layer()` against the bare handler, driven in-process on a
/// current-thread runtime (no socket: the layer's own cost, not the network's), with and
/// without the OpenTelemetry-API bridge (`Config::opentelemetry_api`).
fn requests(c: &mut Criterion) {
    use teei_obs::trace::{Root, Sampler};
    use tower::{Layer, ServiceExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let handler = tower::service_fn(|_request: axum::http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(axum::http::Response::new(axum::body::Body::empty()))
    });
    let request = || {
        axum::http::Request::get("/orders")
            .body(axum::body::Body::empty())
            .expect("request")
    };
    let mut group = c.benchmark_group("request");
    group.bench_function("bare", |b| {
        b.iter(|| runtime.block_on(handler.oneshot(request())))
    });
    for (name, sampler, api) in [
        (
            "layer_unsampled",
            Sampler::ParentBased(Root::AlwaysOff),
            true,
        ),
        (
            "layer_unsampled_without_otel_api",
            Sampler::ParentBased(Root::AlwaysOff),
            false,
        ),
        ("layer_sampled", Sampler::AlwaysOn, true),
        ("layer_sampled_without_otel_api", Sampler::AlwaysOn, false),
    ] {
        let obs = teei_obs::init(
            teei_obs::Config::new("bench")
                .install_metrics_recorder(false)
                .install_subscriber(false)
                .sampler(sampler)
                .opentelemetry_api(api)
                .span_exporter(|| Noop),
        )
        .expect("init");
        let layered = obs.request_layer().layer(handler);
        tracing::subscriber::with_default(obs.subscriber(), || {
            group.bench_function(name, |b| {
                b.iter(|| runtime.block_on(layered.clone().oneshot(request())))
            });
        });
    }
    group.finish();
}

/// Sentry's side of a span with an INFO event in it (a breadcrumb): `sentry-tracing`'s layer
/// (which also makes a Sentry span of every INFO span) against teei-obs's, each on a bare
/// `Registry`; the Registry alone is the baseline.
fn sentry_layers(c: &mut Criterion) {
    use tracing_subscriber::layer::SubscriberExt;
    // A client whose endpoint is down: envelopes are dropped at once, breadcrumbs recorded.
    let obs = teei_obs::init(
        teei_obs::Config::new("bench")
            .install_metrics_recorder(false)
            .install_subscriber(false)
            .trace_export(teei_obs::config::TraceExport::None)
            .sentry_dsn("http://public@127.0.0.1:9/1")
            .expect("dsn"),
    )
    .expect("init");
    let work = || {
        let span = tracing::info_span!("handle", order = 7);
        let _entered = span.enter();
        tracing::info!(user_id = 42, "order placed");
    };
    let mut group = c.benchmark_group("sentry");
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        group.bench_function("registry_bare", |b| b.iter(work));
    });
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(obs.sentry_layer()),
        || group.bench_function("registry_teei_sentry_layer", |b| b.iter(work)),
    );
    // The SDK's one-call layer, as its users set it up today (deprecated in 0.49 in favour
    // of separate span and log layers; the figures in docs/performance.md are of this one).
    #[allow(deprecated)]
    let sentry_tracing_layer = sentry_tracing::layer();
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(sentry_tracing_layer),
        || group.bench_function("registry_sentry_tracing_layer", |b| b.iter(work)),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = per_call, contended, spans, logs, render, requests, sentry_layers
}
criterion_main!(benches);
