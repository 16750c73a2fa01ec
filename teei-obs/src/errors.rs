//! Error tracking with Sentry: ERROR events and panics become Sentry events, INFO and WARN
//! events of the same request become their breadcrumbs, all through the redaction policy.
//!
//! Enabled by `SENTRY_DSN` (absent: disabled, silently; malformed: `init` fails naming the
//! variable). Each request that passes [`Obs::layer`](crate::Obs::layer) gets a hub of its
//! own, so breadcrumbs never cross requests, tagged with `correlationId`, `causationId` and
//! `service`, with the request (method, URL, redacted headers) attached. Events carry the
//! trace ID, so an event links to its trace.
//!
//! Sending never slows the service: events go to a bounded queue drained by a thread of
//! their own; a full queue or an envelope the transport could not hand over within the
//! flush bound is counted in `teei_obs_sentry_envelopes_dropped_total{reason}`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntCounterVec, Opts};
use sentry::protocol::{Breadcrumb, Event, Level, Map, Request, User, Value};
use sentry::{Envelope, Hub, Transport, TransportFactory, TransportOptions};

use crate::redact::{REDACTED, Redactor};

/// Sentry's side of the running service; dropping it closes the client.
pub(crate) struct ErrorTracking {
    guard: sentry::ClientInitGuard,
}

impl std::fmt::Debug for ErrorTracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorTracking").finish_non_exhaustive()
    }
}

impl ErrorTracking {
    /// Sends what is queued, within `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        self.guard.flush(Some(timeout))
    }
}

/// Sentry's settings, from [`Config`](crate::Config).
#[derive(Clone, Debug)]
pub(crate) struct SentrySettings {
    pub(crate) dsn: sentry::types::Dsn,
    pub(crate) sample_rate: f32,
    pub(crate) traces_sample_rate: f32,
}

/// What Sentry is told about the service, from the configuration.
#[derive(Debug)]
pub(crate) struct ServiceInfo {
    pub(crate) release: Option<String>,
    pub(crate) environment: String,
    pub(crate) redactor: Redactor,
}

/// Starts the Sentry client.
pub(crate) fn init(
    settings: &SentrySettings,
    service: &ServiceInfo,
    registry: &prometheus::Registry,
) -> Result<ErrorTracking, crate::InitError> {
    let dropped = IntCounterVec::new(
        Opts::new(
            "teei_obs_sentry_envelopes_dropped_total",
            "Sentry envelopes not handed to the transport, by reason",
        ),
        &["reason"],
    )?;
    for reason in ["queue_full", "timeout"] {
        dropped.with_label_values(&[reason]);
    }
    let submitted = IntCounter::new(
        "teei_obs_sentry_envelopes_submitted_total",
        "Sentry envelopes handed to the transport",
    )?;
    registry.register(Box::new(dropped.clone()))?;
    registry.register(Box::new(submitted.clone()))?;
    let redactor = service.redactor.clone();
    let breadcrumb_redactor = service.redactor.clone();
    let mut options = sentry::ClientOptions::new()
        .sample_rate(settings.sample_rate)
        .traces_sample_rate(settings.traces_sample_rate)
        .send_default_pii(false)
        .shutdown_timeout(Duration::from_secs(2));
    options.dsn = Some(settings.dsn.clone());
    options.release = service.release.clone().map(Into::into);
    options.environment = Some(service.environment.clone().into());
    options.before_send = Some(Arc::new(move |event| Some(redact_event(&redactor, event))));
    options.before_breadcrumb = Some(Arc::new(move |breadcrumb| {
        Some(redact_breadcrumb(&breadcrumb_redactor, breadcrumb))
    }));
    options.transport = Some(Arc::new(BoundedTransportFactory {
        capacity: 100,
        flush_bound: Duration::from_secs(2),
        dropped,
        submitted,
    }));
    let guard = sentry::init(options);
    // `sentry::init` binds the client to the calling thread's hub, which is the process
    // hub only on the thread that touched Sentry first. Request hubs are made from the
    // process hub, so bind it there too: `init` may run on any thread.
    Hub::main().bind_client(Hub::current().client());
    Ok(ErrorTracking { guard })
}

/// The Sentry capture as a `tracing_subscriber` layer, for a `Registry` of your own
/// ([`Obs::sentry_layer`](crate::Obs::sentry_layer); [`Obs::layers`](crate::Obs::layers)
/// has it with its `RUST_LOG` filter): ERROR events become Sentry events and INFO/WARN
/// events breadcrumbs, exactly as with `init`'s subscriber. Does nothing while no Sentry
/// client runs.
#[derive(Clone, Debug)]
pub struct SentryLayer {
    redactor: Redactor,
    registry: crate::trace::RegistryHandle,
}

impl SentryLayer {
    pub(crate) fn new(redactor: Redactor) -> Self {
        SentryLayer {
            redactor,
            registry: Default::default(),
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for SentryLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    // Span fields kept in the span's extensions, the dispatcher remembered for trace IDs.
    crate::trace::event_layer_span_methods!();

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if !enabled() {
            return;
        }
        let span_fields = crate::trace::scope_fields(event, &ctx);
        let prepared = crate::trace::prepare(&self.redactor, event, &span_fields);
        observe(
            &prepared,
            self.registry.trace_ids(event, &ctx).map(|ids| ids.0),
        );
    }
}

/// Sets the user of the current request (or of the process, outside requests).
pub fn set_user(id: &str, company_id: Option<&str>, role: Option<&str>) {
    sentry::configure_scope(|scope| {
        let mut other = Map::new();
        if let Some(company_id) = company_id {
            other.insert("companyId".into(), Value::from(company_id));
        }
        if let Some(role) = role {
            other.insert("role".into(), Value::from(role));
        }
        scope.set_user(Some(User {
            id: Some(id.to_owned()),
            other,
            ..Default::default()
        }));
    });
}

/// Whether a Sentry client is running.
pub(crate) fn enabled() -> bool {
    // No clone of the hub: this runs on every request.
    Hub::with_active(|hub| hub.client().is_some_and(|client| client.is_enabled()))
}

/// A hub for one request: its breadcrumbs and tags stay with it.
pub(crate) fn request_hub(
    context: &crate::trace::RequestContext,
    service: &str,
    method: &str,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    redactor: &Redactor,
) -> Arc<Hub> {
    let hub = Arc::new(Hub::new_from_top(Hub::main()));
    let request = Request {
        url: format!("http://localhost{}", redactor.redact_text(&uri.to_string()))
            .parse()
            .ok(),
        method: Some(method.to_owned()),
        headers: headers
            .iter()
            .map(|(name, value)| {
                let value = if redactor.is_sensitive_key(name.as_str()) {
                    REDACTED.to_owned()
                } else {
                    redactor
                        .redact_text(&String::from_utf8_lossy(value.as_bytes()))
                        .into_owned()
                };
                (name.as_str().to_owned(), value)
            })
            .collect(),
        ..Default::default()
    };
    let correlation = context.correlation_id().to_owned();
    let causation = context.causation_id().map(str::to_owned);
    let service = service.to_owned();
    hub.configure_scope(move |scope| {
        scope.set_tag("correlationId", &correlation);
        if let Some(causation) = &causation {
            scope.set_tag("causationId", causation);
        }
        scope.set_tag("service", &service);
        scope.add_event_processor(move |mut event| {
            if event.request.is_none() {
                event.request = Some(request.clone());
            }
            Some(event)
        });
    });
    hub
}

/// Turns a log event into a Sentry event (ERROR) or a breadcrumb (INFO, WARN).
pub(crate) fn observe(event: &crate::trace::Prepared, trace_id: Option<u128>) {
    if let Some(event) = event_for(event, trace_id) {
        sentry::capture_event(event);
        return;
    }
    let (level, target, message, fields) =
        (event.level, &event.target, &event.message, &event.fields);
    if level == tracing::Level::INFO || level == tracing::Level::WARN {
        sentry::add_breadcrumb(Breadcrumb {
            category: Some(target.to_owned()),
            level: if level == tracing::Level::WARN {
                Level::Warning
            } else {
                Level::Info
            },
            message: Some(message.to_owned()),
            data: fields.clone().into_iter().collect(),
            ..Default::default()
        });
    }
}

/// The Sentry event an ERROR log event becomes (`None` for other levels).
pub(crate) fn event_for(
    event: &crate::trace::Prepared,
    trace_id: Option<u128>,
) -> Option<Event<'static>> {
    let (level, target, message, fields) =
        (event.level, &event.target, &event.message, &event.fields);
    if level == tracing::Level::ERROR {
        let mut event = Event {
            level: Level::Error,
            logger: Some(target.to_owned()),
            message: Some(
                match fields.get("exception.message").and_then(|v| v.as_str()) {
                    Some(exception) => format!("{message}: {exception}"),
                    None => message.to_owned(),
                },
            ),
            extra: fields.clone().into_iter().collect(),
            ..Default::default()
        };
        if let Some(trace_id) = trace_id {
            event
                .tags
                .insert("trace_id".into(), format!("{trace_id:032x}"));
        }
        Some(event)
    } else {
        None
    }
}

fn redact_value(redactor: &Redactor, key: &str, value: &mut Value) {
    if redactor.is_sensitive_key(key) {
        *value = Value::from(REDACTED);
    } else {
        redactor.redact_json(value);
    }
}

fn redact_breadcrumb(redactor: &Redactor, mut breadcrumb: Breadcrumb) -> Breadcrumb {
    if let Some(message) = &breadcrumb.message {
        breadcrumb.message = Some(redactor.redact_text(message).into_owned());
    }
    for (key, value) in breadcrumb.data.iter_mut() {
        redact_value(redactor, key, value);
    }
    breadcrumb
}

/// The last line of defence: everything an event carries passes the policy.
fn redact_event(redactor: &Redactor, mut event: Event<'static>) -> Event<'static> {
    if let Some(message) = &event.message {
        event.message = Some(redactor.redact_text(message).into_owned());
    }
    for exception in event.exception.values.iter_mut() {
        if let Some(value) = &exception.value {
            exception.value = Some(redactor.redact_text(value).into_owned());
        }
    }
    for (key, value) in event.extra.iter_mut() {
        redact_value(redactor, key, value);
    }
    for (key, value) in event.tags.iter_mut() {
        if redactor.is_sensitive_key(key) {
            *value = REDACTED.to_owned();
        }
    }
    event.breadcrumbs.values = std::mem::take(&mut event.breadcrumbs.values)
        .into_iter()
        .map(|b| redact_breadcrumb(redactor, b))
        .collect();
    if let Some(request) = &mut event.request {
        for (key, value) in request.headers.iter_mut() {
            if redactor.is_sensitive_key(key) {
                *value = REDACTED.to_owned();
            } else {
                *value = redactor.redact_text(value).into_owned();
            }
        }
        request.cookies = request.cookies.as_ref().map(|_| REDACTED.to_owned());
        request.data = request
            .data
            .as_ref()
            .map(|data| redactor.redact_text(data).into_owned());
        request.query_string = request
            .query_string
            .as_ref()
            .map(|query| redactor.redact_text(query).into_owned());
    }
    event
}

/// A transport in front of Sentry's own: a bounded queue we can count, drained by one
/// thread that hands envelopes over one at a time, each within the flush bound.
struct BoundedTransportFactory {
    capacity: usize,
    flush_bound: Duration,
    dropped: IntCounterVec,
    submitted: IntCounter,
}

impl TransportFactory for BoundedTransportFactory {
    fn create_transport_with_options(&self, options: TransportOptions) -> Arc<dyn Transport> {
        let inner =
            sentry::transports::DefaultTransportFactory.create_transport_with_options(options);
        let (sender, receiver) = mpsc::sync_channel::<Envelope>(self.capacity);
        let pending = Arc::new(AtomicUsize::new(0));
        let thread_pending = pending.clone();
        let thread_inner = inner.clone();
        let (dropped, submitted, bound) = (
            self.dropped.clone(),
            self.submitted.clone(),
            self.flush_bound,
        );
        let spawned = std::thread::Builder::new()
            .name("teei-obs-sentry".into())
            .spawn(move || {
                crate::trace::suppress_on_this_thread();
                for envelope in receiver {
                    thread_inner.send_envelope(envelope);
                    if thread_inner.flush(bound) {
                        submitted.inc();
                    } else {
                        dropped.with_label_values(&["timeout"]).inc();
                    }
                    thread_pending.fetch_sub(1, Ordering::SeqCst);
                }
            });
        Arc::new(BoundedTransport {
            sender: Mutex::new(spawned.ok().map(|_| sender)),
            pending,
            inner,
            dropped: self.dropped.clone(),
        })
    }
}

struct BoundedTransport {
    sender: Mutex<Option<SyncSender<Envelope>>>,
    pending: Arc<AtomicUsize>,
    inner: Arc<dyn Transport>,
    dropped: IntCounterVec,
}

impl Transport for BoundedTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = sender.as_ref() else {
            self.dropped.with_label_values(&["queue_full"]).inc();
            return;
        };
        self.pending.fetch_add(1, Ordering::SeqCst);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            sender.try_send(envelope)
        {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.dropped.with_label_values(&["queue_full"]).inc();
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.pending.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        let flushed = self.flush(timeout);
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.inner.shutdown(Duration::from_millis(100)) && flushed
    }
}
