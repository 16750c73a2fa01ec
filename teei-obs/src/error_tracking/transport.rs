//! How envelopes leave: the SDK's own transport thread and bounded queue, with a send
//! function of ours on `reqwest` that knows each envelope's outcome.
//!
//! The SDK's thread (`TokioTransportThread`) already bounds memory and never blocks the
//! caller: its channel is bounded and `send` is a `try_send`. What it cannot do is say what
//! became of an envelope, and it tries every one against an endpoint that refused the
//! last: with Sentry down, each error cost a connection attempt on a 2-core machine, and an
//! endpoint that never answers held the thread with no timeout at all. The send function
//! here counts every envelope once (`teei_obs_sentry_envelopes_submitted_total`, or
//! `…_dropped_total{reason}`), gives each request a timeout, and after a failure stops
//! trying for a back-off (1 s, doubling to 60 s): envelopes meanwhile are dropped at once,
//! counted as `endpoint_down`, and the first one after the back-off probes again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntCounterVec, Opts};
use sentry::transports::{RateLimiter, RateLimitingCategory, TokioTransportThreadOptions};
use sentry::{Envelope, Transport, TransportFactory, TransportOptions};

/// Why an envelope was not delivered: the `reason` label values.
pub(crate) const DROP_REASONS: [&str; 5] = [
    "queue_full",
    "endpoint_down",
    "unreachable",
    "rejected",
    "rate_limited",
];

/// The first back-off after a failure, and the longest.
const BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));

/// The counters of what became of each envelope.
#[derive(Clone, Debug)]
pub(crate) struct Outcomes {
    submitted: IntCounter,
    dropped: IntCounterVec,
}

impl Outcomes {
    pub(crate) fn register(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let dropped = IntCounterVec::new(
            Opts::new(
                crate::metrics::names::SENTRY_ENVELOPES_DROPPED_TOTAL,
                "Sentry envelopes not delivered, by reason",
            ),
            &["reason"],
        )?;
        for reason in DROP_REASONS {
            dropped.with_label_values(&[reason]);
        }
        let submitted = IntCounter::new(
            crate::metrics::names::SENTRY_ENVELOPES_SUBMITTED_TOTAL,
            "Sentry envelopes the endpoint accepted",
        )?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(submitted.clone()))?;
        Ok(Outcomes { submitted, dropped })
    }

    fn drop_for(&self, reason: &str) {
        self.dropped.with_label_values(&[reason]).inc();
    }
}

/// Makes the transport when the client starts.
pub(crate) struct CountedTransportFactory {
    /// Envelopes waiting at most; more are dropped (`queue_full`).
    pub(crate) capacity: usize,
    /// The bound on one delivery, connection included.
    pub(crate) timeout: Duration,
    pub(crate) outcomes: Outcomes,
}

impl TransportFactory for CountedTransportFactory {
    fn create_transport_with_options(&self, options: TransportOptions) -> Arc<dyn Transport> {
        let state = Arc::new(State {
            queued: AtomicUsize::new(0),
            down: Mutex::new(Down::default()),
            limits: Mutex::new(RateLimiter::new()),
            outcomes: self.outcomes.clone(),
        });
        let client = reqwest::Client::builder()
            .connect_timeout(self.timeout.min(Duration::from_secs(1)))
            .timeout(self.timeout)
            .danger_accept_invalid_certs(options.accept_invalid_certs)
            .build();
        let url = options.dsn.envelope_api_url().to_string();
        let auth = options.dsn.to_auth(Some(&options.user_agent)).to_string();
        let sender_state = state.clone();
        let in_app = super::event::in_app_options();
        let send = move |envelope: Envelope, loop_limits: RateLimiter| {
            // This runs on the SDK's transport thread: its HTTP client's own events must
            // not become spans or Sentry events.
            crate::trace::suppress_on_this_thread();
            let state = sender_state.clone();
            let envelope = symbolicated(envelope, &in_app);
            let request = client.as_ref().ok().map(|client| {
                let mut body = Vec::with_capacity(1024);
                // Writing to a Vec fails only if serialization does.
                let written = envelope.to_writer(&mut body).is_ok();
                written.then(|| {
                    client
                        .post(&url)
                        .header("X-Sentry-Auth", &auth)
                        .header("Content-Type", "application/x-sentry-envelope")
                        .body(body)
                })
            });
            async move {
                state.deliver(request.flatten()).await;
                state.queued.fetch_sub(1, Ordering::SeqCst);
                // The SDK's own limiter stays open: ours decides, and counts.
                loop_limits
            }
        };
        let thread = TokioTransportThreadOptions::new(send)
            .with_client_report_recorder(options.client_report_recorder.clone())
            // Room for the envelopes we admit, a flush and the shutdown.
            .with_channel_capacity(self.capacity + 2)
            .spawn_thread();
        Arc::new(CountedTransport {
            thread,
            state,
            capacity: self.capacity,
        })
    }
}

/// `envelope` with its events' stack traces resolved (see
/// [`symbolicate`](super::event::symbolicate)): here, on the transport thread.
fn symbolicated(envelope: Envelope, options: &sentry::ClientOptions) -> Envelope {
    if envelope.event().is_none() {
        return envelope;
    }
    let mut rebuilt = Envelope::new().with_headers(envelope.headers().clone());
    for item in envelope.into_items() {
        match item {
            sentry::protocol::EnvelopeItem::Event(mut event) => {
                super::event::symbolicate(&mut event, options);
                rebuilt.add_item(*event);
            }
            other => rebuilt.add_item(other),
        }
    }
    rebuilt
}

/// What the send function and the callers share.
struct State {
    /// Envelopes admitted and not yet through the send function.
    queued: AtomicUsize,
    down: Mutex<Down>,
    limits: Mutex<RateLimiter>,
    outcomes: Outcomes,
}

/// Whether the endpoint is known down, and for how long to leave it alone.
#[derive(Default)]
struct Down {
    until: Option<Instant>,
    backoff: Option<Duration>,
}

impl State {
    fn known_down(&self) -> bool {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.until.is_some_and(|until| Instant::now() < until)
    }

    fn rate_limited(&self, envelope: Envelope) -> Option<Envelope> {
        let limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        // Every envelope here is an event: the categories that matter are these two.
        let limited = limits.is_disabled(RateLimitingCategory::Any).is_some()
            || limits.is_disabled(RateLimitingCategory::Error).is_some();
        (!limited).then_some(envelope)
    }

    async fn deliver(&self, request: Option<reqwest::RequestBuilder>) {
        // Queued before the endpoint went down: not worth a try either.
        if self.known_down() {
            return self.outcomes.drop_for("endpoint_down");
        }
        let Some(request) = request else {
            return self.outcomes.drop_for("rejected");
        };
        match request.send().await {
            Ok(response) => {
                self.up();
                let status = response.status();
                {
                    let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
                    let headers = response.headers();
                    if let Some(header) = headers
                        .get("x-sentry-rate-limits")
                        .and_then(|v| v.to_str().ok())
                    {
                        limits.update_from_sentry_header(header);
                    } else if let Some(after) = headers
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                    {
                        limits.update_from_retry_after(after);
                    } else if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                        limits.update_from_429();
                    }
                }
                if status.is_success() {
                    self.outcomes.submitted.inc();
                } else if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    self.outcomes.drop_for("rate_limited");
                } else {
                    self.outcomes.drop_for("rejected");
                }
            }
            Err(_) => {
                self.went_down();
                self.outcomes.drop_for("unreachable");
            }
        }
    }

    fn went_down(&self) {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        let backoff = down
            .backoff
            .map_or(BACKOFF.0, |last| (last * 2).min(BACKOFF.1));
        down.backoff = Some(backoff);
        down.until = Some(Instant::now() + backoff);
    }

    fn up(&self) {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        *down = Down::default();
    }
}

struct CountedTransport {
    thread: sentry::transports::TokioTransportThread,
    state: Arc<State>,
    capacity: usize,
}

impl Transport for CountedTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let state = &self.state;
        if state.known_down() {
            return state.outcomes.drop_for("endpoint_down");
        }
        let Some(envelope) = state.rate_limited(envelope) else {
            return state.outcomes.drop_for("rate_limited");
        };
        if state.queued.fetch_add(1, Ordering::SeqCst) >= self.capacity {
            state.queued.fetch_sub(1, Ordering::SeqCst);
            return state.outcomes.drop_for("queue_full");
        }
        self.thread.send(envelope);
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.thread.flush(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.flush(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            queued: AtomicUsize::new(0),
            down: Mutex::new(Down::default()),
            limits: Mutex::new(RateLimiter::new()),
            outcomes: Outcomes::register(&prometheus::Registry::new()).unwrap(),
        }
    }

    #[test]
    fn a_failure_backs_off_doubling_up_to_a_minute_and_success_resets() {
        let state = state();
        assert!(!state.known_down());
        let mut seen = Vec::new();
        for _ in 0..8 {
            state.went_down();
            seen.push(state.down.lock().unwrap().backoff.unwrap().as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert!(state.known_down());
        state.up();
        assert!(!state.known_down());
        state.went_down();
        assert_eq!(state.down.lock().unwrap().backoff, Some(BACKOFF.0));
    }
}
