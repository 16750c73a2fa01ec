//! Where sampled spans go: a bounded queue drained by one export thread, or an embedded
//! sink when no collector is configured.
//!
//! The service never waits for the collector: `submit` is a non-blocking `try_send`; a
//! full queue drops the span and counts it. The export thread runs its own single-threaded
//! Tokio runtime (the OTLP exporters need one), so exporting neither borrows the service's
//! runtime nor deadlocks a current-thread runtime at shutdown.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts};

use super::context::suppress_tracing;

mod thread;
use thread::{AWAKE, Hooks, PARKED_IDLE, PARKED_TIMED, export_loop};

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

impl super::recorder::SpanSink for Pipeline {
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
                // Not `eprintln!`: a closed or full standard error must not panic the
                // instrumented code; the span is counted as dropped instead.
                let written = writeln!(
                    std::io::stderr().lock(),
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
                match written {
                    Ok(()) => self.metrics.exported.inc(),
                    Err(_) => self.metrics.drop_spans("export_failed", 1),
                }
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
