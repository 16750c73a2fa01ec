#![doc = include_str!("../../../docs/error-tracking.md")]

mod capture;
mod event;
mod hub;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use sentry::Hub;

pub use capture::{Capture, EventId, User, capture_error, capture_message, set_user};
pub use sentry::Level;

pub(crate) use event::{event_for, observe};
pub(crate) use hub::{Ids, request_hub, scope_hub};

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
}

/// What Sentry is told about the service, from the configuration.
#[derive(Debug)]
pub(crate) struct ServiceInfo {
    pub(crate) name: String,
    pub(crate) release: Option<String>,
    pub(crate) environment: String,
    pub(crate) redactor: Redactor,
}

use crate::redact::Redactor;

/// The service's name, for the `service` tag of hubs made outside the HTTP layer.
static SERVICE: std::sync::RwLock<Option<Arc<str>>> = std::sync::RwLock::new(None);

pub(crate) fn service_name() -> Option<Arc<str>> {
    SERVICE.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Starts the Sentry client.
pub(crate) fn init(
    settings: &SentrySettings,
    service: &ServiceInfo,
    registry: &prometheus::Registry,
) -> Result<ErrorTracking, crate::InitError> {
    let outcomes = transport::Outcomes::register(registry)?;
    let redactor = service.redactor.clone();
    let breadcrumb_redactor = service.redactor.clone();
    let mut options = sentry::ClientOptions::new()
        .sample_rate(settings.sample_rate)
        .traces_sample_rate(0.0)
        .send_default_pii(false)
        .shutdown_timeout(Duration::from_secs(2));
    options.dsn = Some(settings.dsn.clone());
    options.release = service.release.clone().map(Into::into);
    options.environment = Some(service.environment.clone().into());
    options.in_app_exclude = event::in_app_options().in_app_exclude;
    options.before_send = Some(Arc::new(move |event| {
        Some(event::redact_event(&redactor, event))
    }));
    options.before_breadcrumb = Some(Arc::new(move |breadcrumb| {
        Some(event::redact_breadcrumb(&breadcrumb_redactor, breadcrumb))
    }));
    options.transport = Some(Arc::new(transport::CountedTransportFactory {
        capacity: 100,
        timeout: Duration::from_secs(2),
        outcomes,
    }));
    *SERVICE.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::from(service.name.as_str()));
    let guard = sentry::init(options);
    // `sentry::init` binds the client to the calling thread's hub, which is the process
    // hub only on the thread that touched Sentry first. Request hubs are made from the
    // process hub, so bind it there too: `init` may run on any thread.
    Hub::main().bind_client(Hub::current().client());
    capture::link_panics_to_traces();
    Ok(ErrorTracking { guard })
}

/// The hub to report to: the current one (a request's or a message's) when it has the
/// client, else the process hub — a thread first touched before `init` has a hub of its
/// own without one.
pub(crate) fn hub() -> Arc<Hub> {
    let current = Hub::current();
    if current.client().is_some() {
        current
    } else {
        Hub::main()
    }
}

/// The Sentry capture as a `tracing_subscriber` layer, for a `Registry` of your own
/// ([`Obs::sentry_layer`](crate::Obs::sentry_layer); [`Obs::layers`](crate::Obs::layers)
/// has it with its `RUST_LOG` filter): ERROR events become Sentry events and INFO/WARN
/// events breadcrumbs, exactly as with `init`'s subscriber. Does nothing while no Sentry
/// client runs.
///
/// Why not `sentry-tracing`'s layer: `init`'s subscriber is not a `Registry`, so that
/// layer cannot run there, and both wirings must report alike; see the
/// [module](self#why-not-sentry-tracings-layer) for the measurement on a `Registry`.
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
        if !enabled() || event.metadata().target() == crate::trace::PANIC_TARGET {
            return;
        }
        let span_fields = crate::trace::scope_fields(event, &ctx);
        let mut prepared = crate::trace::prepare(&self.redactor, event, &span_fields);
        if prepared.level == tracing::Level::ERROR {
            // Only an ERROR event becomes a Sentry event, which names its spans.
            prepared.span_names = crate::trace::scope_names(event, &ctx);
        }
        observe(&prepared, self.registry.trace_ids(event, &ctx));
    }
}

/// Whether a Sentry client is running.
pub(crate) fn enabled() -> bool {
    let on = |hub: &Hub| hub.client().is_some_and(|client| client.is_enabled());
    on(&Hub::current()) || on(&Hub::main())
}
