//! Where sampled spans go: a bounded queue drained by one export thread, or an embedded
//! sink when no collector is configured.
//!
//! The service never waits for the collector: `submit` is a non-blocking `try_send`; a
//! full queue drops the span and counts it. The export thread runs its own single-threaded
//! Tokio runtime (the OTLP exporters need one), so exporting neither borrows the service's
//! runtime nor deadlocks a current-thread runtime at shutdown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

use super::context::suppress_tracing;

/// Counters of the export pipeline, served on `/metrics`.
#[derive(Clone, Debug)]
pub(crate) struct PipelineMetrics {
    dropped: IntCounterVec,
    exported: IntCounter,
    failures: IntCounter,
    queued: IntGauge,
}

impl PipelineMetrics {
    pub(crate) fn new(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let metrics = PipelineMetrics {
            dropped: IntCounterVec::new(
                Opts::new(
                    crate::metrics::names::SPANS_DROPPED_TOTAL,
                    "Sampled spans that were not exported, by reason",
                ),
                &["reason"],
            )?,
            exported: IntCounter::new(
                crate::metrics::names::SPANS_EXPORTED_TOTAL,
                "Spans the exporter accepted",
            )?,
            failures: IntCounter::new(
                crate::metrics::names::SPAN_EXPORT_FAILURES_TOTAL,
                "Export calls that failed or timed out",
            )?,
            queued: IntGauge::new(
                crate::metrics::names::SPAN_QUEUE_LENGTH,
                "Spans waiting in the export queue",
            )?,
        };
        for reason in ["queue_full", "export_failed", "shutdown"] {
            metrics.dropped.with_label_values(&[reason]);
        }
        registry.register(Box::new(metrics.dropped.clone()))?;
        registry.register(Box::new(metrics.exported.clone()))?;
        registry.register(Box::new(metrics.failures.clone()))?;
        registry.register(Box::new(metrics.queued.clone()))?;
        Ok(metrics)
    }

    fn drop_spans(&self, reason: &str, count: usize) {
        self.dropped
            .with_label_values(&[reason])
            .inc_by(count as u64);
    }
}

/// Batching and timing of the export thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueueSettings {
    pub(crate) capacity: usize,
    pub(crate) max_batch: usize,
    pub(crate) delay: Duration,
    pub(crate) export_timeout: Duration,
}

enum Control {
    Flush(mpsc::Sender<()>),
    Shutdown(mpsc::Sender<()>),
}

/// The sink of sampled spans.
enum Sink {
    Queue {
        spans: SyncSender<SpanData>,
        control: Mutex<mpsc::Sender<Control>>,
        /// The export thread, to unpark when a batch is full or control is asked for.
        thread: std::thread::Thread,
        /// Whether it is parked, and how (so a hand-over unparks it only when needed).
        parked: Arc<AtomicU8>,
        max_batch: i64,
    },
    Memory(Mutex<VecDeque<SpanData>>, usize),
    Console,
    Off,
}

/// Something that sees every span the pipeline exports or keeps (the console).
pub(crate) type Tap = Box<dyn Fn(&[SpanData]) + Send + Sync>;

/// Where the pipeline keeps its [`Tap`], set once.
pub(crate) type SpanTap = Arc<OnceLock<Tap>>;

/// The export pipeline the layer hands spans to.
pub(crate) struct Pipeline {
    sink: Sink,
    metrics: PipelineMetrics,
    tap: SpanTap,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

/// Why a flush or shutdown did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlushError {
    /// The export thread did not finish within the bound; spans may be lost.
    #[error("span export did not finish within {0:?}")]
    TimedOut(Duration),
}

impl super::layer::SpanSink for Pipeline {
    fn submit(&self, span: SpanData) {
        Pipeline::submit(self, span);
    }
}

impl Pipeline {
    pub(crate) fn memory(capacity: usize, metrics: PipelineMetrics) -> Self {
        Pipeline {
            // Grown as spans arrive: a large ring (a test capture keeps 100,000) must not
            // reserve its whole size up front.
            sink: Sink::Memory(
                Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
                capacity,
            ),
            metrics,
            tap: SpanTap::default(),
        }
    }

    pub(crate) fn console(metrics: PipelineMetrics) -> Self {
        Pipeline {
            sink: Sink::Console,
            metrics,
            tap: SpanTap::default(),
        }
    }

    pub(crate) fn off(metrics: PipelineMetrics) -> Self {
        Pipeline {
            sink: Sink::Off,
            metrics,
            tap: SpanTap::default(),
        }
    }

    /// Starts the export thread; `build` makes the exporter inside its runtime, and its
    /// error is returned here, before any span is accepted.
    pub(crate) fn exporting<E, B>(
        build: B,
        resource: Resource,
        settings: QueueSettings,
        metrics: PipelineMetrics,
    ) -> Result<Self, String>
    where
        E: SpanExporter + 'static,
        B: FnOnce() -> Result<E, String> + Send + 'static,
    {
        let (spans, spans_rx) = mpsc::sync_channel(settings.capacity);
        let (control, control_rx) = mpsc::channel();
        let (ready, ready_rx) = mpsc::channel();
        let thread_metrics = metrics.clone();
        let tap = SpanTap::default();
        let thread_tap = tap.clone();
        let parked = Arc::new(AtomicU8::new(AWAKE));
        let thread_parked = parked.clone();
        let thread = std::thread::Builder::new()
            .name("teei-obs-export".into())
            .spawn(move || {
                suppress_tracing();
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ =
                            ready.send(Err(format!("cannot start the export runtime: {error}")));
                        return;
                    }
                };
                let exporter = {
                    let _entered = runtime.enter();
                    build()
                };
                match exporter {
                    Ok(mut exporter) => {
                        exporter.set_resource(&resource);
                        let _ = ready.send(Ok(()));
                        export_loop(
                            &runtime,
                            &exporter,
                            &spans_rx,
                            &control_rx,
                            settings,
                            &thread_metrics,
                            &Hooks {
                                tap: thread_tap,
                                parked: thread_parked,
                            },
                        );
                        let _ = exporter.shutdown_with_timeout(settings.export_timeout);
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                    }
                }
            })
            .map_err(|error| format!("cannot start the export thread: {error}"))?
            .thread()
            .clone();
        ready_rx
            .recv()
            .map_err(|_| "the export thread stopped while starting".to_owned())??;
        Ok(Pipeline {
            sink: Sink::Queue {
                spans,
                control: Mutex::new(control),
                thread,
                parked,
                max_batch: i64::try_from(settings.max_batch).unwrap_or(i64::MAX),
            },
            metrics,
            tap,
        })
    }

    /// Hands a finished sampled span over; never blocks.
    pub(crate) fn submit(&self, span: SpanData) {
        match &self.sink {
            Sink::Queue {
                spans,
                thread,
                parked,
                max_batch,
                ..
            } => match spans.try_send(span) {
                Ok(()) => {
                    self.metrics.queued.inc();
                    // The thread sleeps until its timer; a full batch wakes it early, and
                    // the first span after it went idle (no timer then). No wake-up per
                    // span: a load of a flag that is rarely written.
                    match parked.load(Ordering::Relaxed) {
                        // One hand-over wins the wake-up; the rest see it awake.
                        PARKED_IDLE
                            if parked
                                .compare_exchange(
                                    PARKED_IDLE,
                                    AWAKE,
                                    Ordering::SeqCst,
                                    Ordering::Relaxed,
                                )
                                .is_ok() =>
                        {
                            thread.unpark();
                        }
                        PARKED_TIMED if self.metrics.queued.get() >= *max_batch => thread.unpark(),
                        _ => {}
                    }
                }
                Err(TrySendError::Full(_)) => self.metrics.drop_spans("queue_full", 1),
                Err(TrySendError::Disconnected(_)) => self.metrics.drop_spans("shutdown", 1),
            },
            Sink::Memory(buffer, capacity) => {
                if let Some(tap) = self.tap.get() {
                    tap(std::slice::from_ref(&span));
                }
                let mut buffer = buffer.lock().unwrap_or_else(|e| e.into_inner());
                if buffer.len() == *capacity {
                    buffer.pop_front();
                }
                buffer.push_back(span);
                self.metrics.exported.inc();
            }
            Sink::Console => {
                eprintln!(
                    "span {} trace={} span={} parent={} {:?} {:?} {}µs {:?}",
                    span.name,
                    span.span_context.trace_id(),
                    span.span_context.span_id(),
                    span.parent_span_id,
                    span.span_kind,
                    span.status,
                    span.end_time
                        .duration_since(span.start_time)
                        .unwrap_or_default()
                        .as_micros(),
                    span.attributes
                        .iter()
                        .map(|kv| format!("{}={}", kv.key, kv.value))
                        .collect::<Vec<_>>(),
                );
                self.metrics.exported.inc();
            }
            Sink::Off => {}
        }
    }

    /// Shows `tap` every span from now on: on the export thread for a collector, as each
    /// span arrives for the in-memory sink. A second tap is ignored.
    #[cfg_attr(not(feature = "console"), allow(dead_code))]
    pub(crate) fn set_tap(&self, tap: Tap) {
        let _ = self.tap.set(tap);
    }

    /// The spans the embedded sink holds, oldest first (empty for other sinks).
    pub(crate) fn recent(&self) -> Vec<SpanData> {
        match &self.sink {
            Sink::Memory(buffer, _) => buffer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Exports everything queued so far, waiting at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        self.control(Control::Flush, timeout)
    }

    /// Exports what is queued and stops the export thread, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        self.control(Control::Shutdown, timeout)
    }

    fn control(
        &self,
        message: fn(mpsc::Sender<()>) -> Control,
        timeout: Duration,
    ) -> Result<(), FlushError> {
        let Sink::Queue {
            control, thread, ..
        } = &self.sink
        else {
            return Ok(());
        };
        let (done, done_rx) = mpsc::channel();
        let sent = control
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(message(done));
        if sent.is_err() {
            return Ok(()); // already stopped
        }
        thread.unpark();
        match done_rx.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => Ok(()),
            Err(RecvTimeoutError::Timeout) => Err(FlushError::TimedOut(timeout)),
        }
    }
}

/// The export thread is running.
const AWAKE: u8 = 0;
/// It sleeps until its batch timer: a full batch wakes it early.
const PARKED_TIMED: u8 = 1;
/// Nothing is pending: it sleeps with no timer, and the next span wakes it.
const PARKED_IDLE: u8 = 2;
/// How long an idle export thread sleeps at most: only a wake-up lost to a race with a
/// hand-over (the flag and the queue count are read apart) makes it matter.
const IDLE_SLEEP: Duration = Duration::from_secs(60);

/// Sleeps until the batch timer, a full batch or a control message (both unpark) while
/// spans come; once `quiet` (none arrived since the last look) and none is pending, until
/// the next span arrives (which unparks) or a control message, and the batch timer then
/// starts from that span. Under a steady stream the thread so never sleeps without its
/// timer, and a hand-over never pays for waking it between two batches. The flag is set
/// before the queue is looked at again, so a span handed over in between is seen.
fn sleep(
    parked: &AtomicU8,
    metrics: &PipelineMetrics,
    settings: &QueueSettings,
    deadline: &mut Instant,
    quiet: bool,
) {
    let max_batch = i64::try_from(settings.max_batch).unwrap_or(i64::MAX);
    if quiet && metrics.queued.get() == 0 {
        parked.store(PARKED_IDLE, Ordering::SeqCst);
        if metrics.queued.get() == 0 {
            std::thread::park_timeout(IDLE_SLEEP);
        }
        *deadline = Instant::now() + settings.delay;
    } else {
        parked.store(PARKED_TIMED, Ordering::SeqCst);
        if metrics.queued.get() < max_batch {
            std::thread::park_timeout(deadline.saturating_duration_since(Instant::now()));
        }
    }
    parked.store(AWAKE, Ordering::SeqCst);
}

/// What the export thread shares with the pipeline besides the queue.
struct Hooks {
    /// The console's view of every exported batch.
    tap: SpanTap,
    /// How the thread sleeps, so that a full batch, or the first span after idling, wakes it.
    parked: Arc<AtomicU8>,
}

fn export_loop<E: SpanExporter>(
    runtime: &tokio::runtime::Runtime,
    exporter: &E,
    spans: &Receiver<SpanData>,
    control: &Receiver<Control>,
    settings: QueueSettings,
    metrics: &PipelineMetrics,
    hooks: &Hooks,
) {
    let Hooks { tap, parked } = hooks;
    // A collector that is down or untrusted fails every batch: say so once per interval,
    // with how many failed since, not once per batch.
    let reported = std::cell::Cell::new(None::<Instant>);
    let unreported = std::cell::Cell::new(0u64);
    let export = |batch: &mut Vec<SpanData>| {
        if batch.is_empty() {
            return;
        }
        let count = batch.len();
        metrics.queued.sub(count as i64);
        let spans = std::mem::take(batch);
        if let Some(tap) = tap.get() {
            tap(&spans);
        }
        // A panicking exporter costs its batch, not the export thread.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                tokio::time::timeout(settings.export_timeout, exporter.export(spans)).await
            })
        }));
        let failure = match result {
            Ok(Ok(Ok(()))) => {
                metrics.exported.inc_by(count as u64);
                return;
            }
            Ok(Ok(Err(error))) => error.to_string(),
            Ok(Err(_)) => format!("timed out after {:?}", settings.export_timeout),
            Err(_) => "the exporter panicked".to_owned(),
        };
        metrics.failures.inc();
        metrics.drop_spans("export_failed", count);
        unreported.set(unreported.get() + 1);
        if reported
            .get()
            .is_none_or(|at| at.elapsed() >= settings.delay)
        {
            let failures = unreported.replace(0);
            reported.set(Some(Instant::now()));
            tracing::warn!(
                error = %failure,
                spans = count,
                failures,
                "span export failed ({failures} failed export call(s) since the last report)"
            );
        }
    };
    let drain = |batch: &mut Vec<SpanData>| {
        while let Ok(span) = spans.try_recv() {
            batch.push(span);
            if batch.len() >= settings.max_batch {
                export(batch);
            }
        }
        export(batch);
    };
    let mut batch = Vec::with_capacity(settings.max_batch);
    let mut deadline = Instant::now() + settings.delay;
    loop {
        match control.try_recv() {
            Ok(Control::Flush(done)) => {
                drain(&mut batch);
                let _ = done.send(());
            }
            Ok(Control::Shutdown(done)) => {
                drain(&mut batch);
                let _ = done.send(());
                return;
            }
            Err(TryRecvError::Disconnected) => {
                drain(&mut batch);
                return;
            }
            Err(TryRecvError::Empty) => {}
        }
        // Poll rather than block on the queue: a receiver parked in `recv` makes every
        // `try_send` of the service pay for waking it up.
        let mut taken = 0;
        loop {
            match spans.try_recv() {
                Ok(span) => {
                    taken += 1;
                    batch.push(span);
                    if batch.len() >= settings.max_batch {
                        export(&mut batch);
                    }
                    if taken >= settings.capacity {
                        break;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    export(&mut batch);
                    return;
                }
            }
        }
        if Instant::now() >= deadline {
            export(&mut batch);
            deadline = Instant::now() + settings.delay;
        }
        if taken < settings.max_batch {
            // Nothing arrived since the last look: quiet, the timer can go too.
            sleep(parked, metrics, &settings, &mut deadline, taken == 0);
        }
    }
}
