//! The export thread: batches taken from the queue, handed to the exporter on its own
//! runtime, failures reported once per interval, and a sleep that costs an idle service
//! nothing.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::{Control, PipelineMetrics, QueueSettings, SpanTap};

/// The export thread is running.
pub(super) const AWAKE: u8 = 0;
/// It sleeps until its batch timer: a full batch wakes it early.
pub(super) const PARKED_TIMED: u8 = 1;
/// Nothing is pending: it sleeps with no timer, and the next span wakes it.
pub(super) const PARKED_IDLE: u8 = 2;
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
pub(super) struct Hooks {
    /// The console's view of every exported batch.
    pub(super) tap: SpanTap,
    /// How the thread sleeps, so that a full batch, or the first span after idling, wakes it.
    pub(super) parked: Arc<AtomicU8>,
}

/// What the export thread works with, and how a batch goes to the exporter.
struct Batches<'a, E> {
    runtime: &'a tokio::runtime::Runtime,
    exporter: &'a E,
    spans: &'a Receiver<SpanData>,
    settings: &'a QueueSettings,
    metrics: &'a PipelineMetrics,
    tap: &'a SpanTap,
    /// A collector that is down or untrusted fails every batch: that is said once per
    /// interval, with how many failed since, not once per batch.
    reported: Cell<Option<Instant>>,
    unreported: Cell<u64>,
}

impl<E: SpanExporter> Batches<'_, E> {
    /// Hands `batch` to the exporter (emptying it), bounded by the export timeout.
    fn export(&self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len();
        self.metrics.queued.sub(count as i64);
        let spans = std::mem::take(batch);
        if let Some(tap) = self.tap.get() {
            tap(&spans);
        }
        let timeout = self.settings.export_timeout;
        // A panicking exporter costs its batch, not the export thread.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.runtime.block_on(async {
                tokio::time::timeout(timeout, self.exporter.export(spans)).await
            })
        }));
        let failure = match result {
            Ok(Ok(Ok(()))) => {
                self.metrics.exported.inc_by(count as u64);
                return;
            }
            Ok(Ok(Err(error))) => error.to_string(),
            Ok(Err(_)) => format!("timed out after {timeout:?}"),
            Err(_) => "the exporter panicked".to_owned(),
        };
        self.failed(&failure, count);
    }

    /// Counts a failed export of `count` spans, and says so unless it did this interval.
    fn failed(&self, failure: &str, count: usize) {
        self.metrics.failures.inc();
        self.metrics.drop_spans("export_failed", count);
        self.unreported.set(self.unreported.get() + 1);
        if self
            .reported
            .get()
            .is_none_or(|at| at.elapsed() >= self.settings.delay)
        {
            let failures = self.unreported.replace(0);
            self.reported.set(Some(Instant::now()));
            tracing::warn!(
                error = %failure,
                spans = count,
                failures,
                "span export failed ({failures} failed export call(s) since the last report)"
            );
        }
    }

    /// Exports everything queued, in full batches and then the rest.
    fn drain(&self, batch: &mut Vec<SpanData>) {
        while let Ok(span) = self.spans.try_recv() {
            batch.push(span);
            if batch.len() >= self.settings.max_batch {
                self.export(batch);
            }
        }
        self.export(batch);
    }

    /// Moves what the queue holds into `batch` (at most its capacity at a time), exporting
    /// each full batch: how many it took, or `None` when the queue is gone. Polls rather
    /// than blocks: a receiver parked in `recv` makes every `try_send` of the service pay
    /// for waking it up.
    fn take(&self, batch: &mut Vec<SpanData>) -> Option<usize> {
        let mut taken = 0;
        loop {
            match self.spans.try_recv() {
                Ok(span) => {
                    taken += 1;
                    batch.push(span);
                    if batch.len() >= self.settings.max_batch {
                        self.export(batch);
                    }
                    if taken >= self.settings.capacity {
                        return Some(taken);
                    }
                }
                Err(TryRecvError::Empty) => return Some(taken),
                Err(TryRecvError::Disconnected) => {
                    self.export(batch);
                    return None;
                }
            }
        }
    }
}

/// The export thread's loop: control messages first, then the queue, the batch timer,
/// and sleep.
pub(super) fn export_loop<E: SpanExporter>(
    runtime: &tokio::runtime::Runtime,
    exporter: &E,
    spans: &Receiver<SpanData>,
    control: &Receiver<Control>,
    settings: QueueSettings,
    metrics: &PipelineMetrics,
    hooks: &Hooks,
) {
    let batches = Batches {
        runtime,
        exporter,
        spans,
        settings: &settings,
        metrics,
        tap: &hooks.tap,
        reported: Cell::new(None),
        unreported: Cell::new(0),
    };
    let mut batch = Vec::with_capacity(settings.max_batch);
    let mut deadline = Instant::now() + settings.delay;
    loop {
        match control.try_recv() {
            Ok(Control::Flush(done)) => {
                batches.drain(&mut batch);
                let _ = done.send(());
            }
            Ok(Control::Shutdown(done)) => {
                batches.drain(&mut batch);
                let _ = done.send(());
                return;
            }
            Err(TryRecvError::Disconnected) => {
                batches.drain(&mut batch);
                return;
            }
            Err(TryRecvError::Empty) => {}
        }
        let Some(taken) = batches.take(&mut batch) else {
            return;
        };
        if Instant::now() >= deadline {
            batches.export(&mut batch);
            deadline = Instant::now() + settings.delay;
        }
        if taken < settings.max_batch {
            // Nothing arrived since the last look: quiet, the timer can go too.
            sleep(&hooks.parked, metrics, &settings, &mut deadline, taken == 0);
        }
    }
}
