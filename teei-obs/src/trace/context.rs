//! The context work runs in: the trace it continues (a local span or a remote parent),
//! the request's correlation and causation IDs and baggage, carried in a task-local (async)
//! or thread-local (sync) scope. Nothing here records spans or parses headers: span
//! recording reads the remote parent from here, propagation builds contexts from headers
//! and writes them back out.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::Arc;

use opentelemetry::trace::{SpanContext, TraceState};

use super::ids::{self, generate_shared_id};

/// The correlation header: one ID for everything a user action causes.
pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// The causation header: the ID of the message or request that caused this one.
pub const CAUSATION_HEADER: &str = "x-causation-id";
/// The longest correlation or causation ID accepted; longer ones are replaced.
pub const MAX_ID_LEN: usize = 128;

/// The parent a span continues: a local span or a remote one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TraceParent {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) sampled: bool,
    /// The `tracestate` header value, validated and normalised.
    pub(crate) trace_state: Option<Arc<str>>,
}

impl TraceParent {
    pub(crate) fn from_span_context(context: &SpanContext) -> Option<Self> {
        context.is_valid().then(|| TraceParent {
            trace_id: u128::from_be_bytes(context.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(context.span_id().to_bytes()),
            sampled: context.is_sampled(),
            trace_state: Some(context.trace_state().header())
                .filter(|state| !state.is_empty())
                .map(Arc::from),
        })
    }

    /// As the context of a span of this process (for OpenTelemetry's current `Context`).
    pub(crate) fn local_span_context(&self) -> SpanContext {
        let state = self.trace_state.as_deref().and_then(|s| s.parse().ok());
        self.context(false, state.unwrap_or_default())
    }

    /// As a remote parent to inject (the `tracestate` header is written from
    /// `trace_state` directly, so the SDK's stricter key check does not drop it).
    pub(crate) fn span_context(&self) -> SpanContext {
        self.context(true, TraceState::default())
    }

    fn context(&self, remote: bool, state: TraceState) -> SpanContext {
        let flags = if self.sampled {
            opentelemetry::trace::TraceFlags::SAMPLED
        } else {
            opentelemetry::trace::TraceFlags::default()
        };
        SpanContext::new(
            self.trace_id.into(),
            self.span_id.into(),
            flags,
            remote,
            state,
        )
    }
}

/// What a request or a message brings along: the remote trace context, the correlation and
/// causation IDs, and the W3C baggage.
///
/// Inside [`RequestContext::scope`] (or [`RequestContext::in_scope`] for synchronous code),
/// a span with no local parent continues the remote trace, and [`correlation_id`] answers
/// anywhere in the task.
///
/// ```
/// use teei_obs::trace::{MessageHeaders, RequestContext};
///
/// let mut headers = MessageHeaders::default();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// headers.insert("x-correlation-id", "order-42");
/// let context = RequestContext::extract(&headers);
/// assert_eq!(context.correlation_id(), "order-42");
/// assert_eq!(context.trace_id().as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
/// ```
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub(crate) parent: Option<TraceParent>,
    pub(crate) correlation_id: Arc<str>,
    pub(crate) causation_id: Option<Arc<str>>,
    /// `None` when none came along (most requests: no allocation for them).
    pub(crate) baggage: Option<Arc<[(String, String)]>>,
    /// Where a message came from and what it is, for its Sentry hub's tags.
    pub(crate) message: Option<Arc<MessageMeta>>,
    /// The request's server span when the sampler dropped it: never a `tracing` span, yet
    /// its children, log lines and outgoing calls continue it.
    pub(crate) server: Option<UnrecordedServer>,
}

/// A server span the sampler dropped, kept as what its children and log lines need of it:
/// its trace context and the request's fields. The request layer keeps such requests out
/// of the span machinery (no slot, no field buffer, no enter and exit per poll).
#[derive(Clone, Debug)]
pub(crate) struct UnrecordedServer {
    /// Its trace context: its own span ID, never sampled.
    pub(crate) span: TraceParent,
    /// Whether the log filter lets the span through, so that lines carry its fields.
    pub(crate) logged: bool,
    pub(crate) method: &'static str,
    /// The matched route template, `None` for `unmatched`.
    pub(crate) route: Option<axum::extract::MatchedPath>,
    /// The request target's path (and query, not shown).
    pub(crate) path: Option<http::uri::PathAndQuery>,
    /// `https` when the request URI says so, else `http`.
    pub(crate) scheme: &'static str,
}

impl UnrecordedServer {
    /// The span's name, as the recorded server span has it (Sentry events list it).
    #[cfg(feature = "sentry")]
    pub(crate) const NAME: &'static str = "HTTP request";

    /// The fields a recorded server span would give a log line, in its order.
    pub(crate) fn fields(&self) -> [(&'static str, serde_json::Value); 4] {
        [
            ("http.request.method", self.method.into()),
            (
                "http.route",
                self.route
                    .as_ref()
                    .map_or("unmatched", |r| r.as_str())
                    .into(),
            ),
            (
                "url.path",
                self.path.as_ref().map_or("/", |p| p.path()).into(),
            ),
            ("url.scheme", self.scheme.into()),
        ]
    }
}

/// A message's destination (subject, topic) and event type.
#[derive(Debug)]
pub(crate) struct MessageMeta {
    pub(crate) destination: Arc<str>,
    pub(crate) event_type: Arc<str>,
}

tokio::task_local! {
    static TASK_CONTEXT: RequestContext;
}

thread_local! {
    // Boxed: the request layer swaps a request's context in and out on every poll, and a
    // pointer swaps cheaper than the whole context (and keeps its futures small).
    static THREAD_CONTEXT: RefCell<Option<Box<RequestContext>>> = const { RefCell::new(None) };
    // Set on threads that must not produce spans of their own (the export thread).
    static SUPPRESSED: Cell<bool> = const { Cell::new(false) };
}

impl RequestContext {
    /// A context for work that starts here: no remote parent, a fresh correlation ID.
    pub fn new_root() -> Self {
        RequestContext {
            parent: None,
            correlation_id: generate_shared_id(),
            causation_id: None,
            baggage: None,
            message: None,
            server: None,
        }
    }

    /// The correlation ID.
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The causation ID, if one came along.
    pub fn causation_id(&self) -> Option<&str> {
        self.causation_id.as_deref()
    }

    /// The remote `tracestate` header value, if one came along and was kept.
    pub fn trace_state(&self) -> Option<String> {
        self.parent
            .as_ref()
            .and_then(|parent| parent.trace_state.as_deref())
            .map(str::to_owned)
    }

    /// The remote trace ID in hex, if a valid `traceparent` came along.
    pub fn trace_id(&self) -> Option<String> {
        self.parent
            .as_ref()
            .map(|parent| format!("{:032x}", parent.trace_id))
    }

    /// Whether the remote parent was sampled, if there is one.
    pub fn remote_sampled(&self) -> Option<bool> {
        self.parent.as_ref().map(|parent| parent.sampled)
    }

    /// The W3C baggage that came along, as `(key, value)` pairs.
    pub fn baggage(&self) -> &[(String, String)] {
        self.baggage.as_deref().unwrap_or_default()
    }

    /// What work of this context continues: the unrecorded server span, else the remote
    /// parent.
    pub(crate) fn trace_parent(&self) -> Option<TraceParent> {
        match &self.server {
            Some(server) => Some(server.span.clone()),
            None => self.parent.clone(),
        }
    }

    /// Marks this context as a message's: received on `destination` (a subject, a topic),
    /// of type `event_type`. Its [`scope`](RequestContext::scope)'s Sentry hub is tagged
    /// `messaging.destination` and `eventType`.
    ///
    /// ```
    /// use teei_obs::trace::{MessageHeaders, RequestContext};
    ///
    /// # async fn handle() {}
    /// # async fn consume(headers: MessageHeaders) {
    /// RequestContext::extract(&headers)
    ///     .for_message("profile.updated", "ProfileUpdated")
    ///     .scope(handle())
    ///     .await;
    /// # }
    /// let context = RequestContext::new_root().for_message("profile.updated", "ProfileUpdated");
    /// assert_eq!(context.destination(), Some("profile.updated"));
    /// assert_eq!(context.event_type(), Some("ProfileUpdated"));
    /// ```
    pub fn for_message(
        mut self,
        destination: impl Into<Arc<str>>,
        event_type: impl Into<Arc<str>>,
    ) -> Self {
        self.message = Some(Arc::new(MessageMeta {
            destination: destination.into(),
            event_type: event_type.into(),
        }));
        self
    }

    /// The destination [`for_message`](RequestContext::for_message) set.
    pub fn destination(&self) -> Option<&str> {
        self.message.as_deref().map(|m| &*m.destination)
    }

    /// The event type [`for_message`](RequestContext::for_message) set.
    pub fn event_type(&self) -> Option<&str> {
        self.message.as_deref().map(|m| &*m.event_type)
    }

    /// Runs `future` with this context current for its whole task.
    ///
    /// With error tracking on, `future` also runs in a Sentry hub of its own, tagged with
    /// the correlation and causation IDs (and a message's destination and type, see
    /// [`for_message`](RequestContext::for_message)): a consumer's error carries its own
    /// IDs and only its own breadcrumbs. Inside a request's or another scope's hub, the new
    /// hub starts from that one's breadcrumbs and tags.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        #[cfg(feature = "sentry")]
        {
            let ids = crate::error_tracking::Ids {
                correlation: &self.correlation_id,
                causation: self.causation_id.as_deref(),
            };
            let message = self
                .message
                .as_deref()
                .map(|m| (&*m.destination, &*m.event_type));
            if let Some(hub) = crate::error_tracking::scope_hub(ids, message, current().is_some()) {
                use sentry::SentryFutureExt as _;
                return TASK_CONTEXT.scope(self, future.bind_hub(hub)).await;
            }
        }
        TASK_CONTEXT.scope(self, future).await
    }

    /// Runs `f` with this context current on this thread.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Box<RequestContext>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                THREAD_CONTEXT.with(|current| *current.borrow_mut() = previous);
            }
        }
        let previous = THREAD_CONTEXT.with(|current| current.borrow_mut().replace(Box::new(self)));
        let _restore = Restore(previous);
        f()
    }
}

/// Swaps `slot` with the context current on this thread: called once to make a context
/// current while a future is polled, and once more to put the previous one back.
pub(crate) fn swap_thread_context(slot: &mut Option<Box<RequestContext>>) {
    THREAD_CONTEXT.with(|current| std::mem::swap(&mut *current.borrow_mut(), slot));
}

/// `f` on the request context of the running task, else of this thread, if there is one.
fn with_current<R>(mut f: impl FnMut(&RequestContext) -> R) -> Option<R> {
    match TASK_CONTEXT.try_with(|context| f(context)) {
        Ok(result) => Some(result),
        Err(_) => THREAD_CONTEXT.with(|current| current.borrow().as_deref().map(f)),
    }
}

/// The request context of the running task or thread, if any.
pub fn current() -> Option<RequestContext> {
    with_current(RequestContext::clone)
}

/// The correlation ID of the running request or message, if any.
pub fn correlation_id() -> Option<Arc<str>> {
    with_current(|context| context.correlation_id.clone())
}

/// The correlation and causation IDs of the running request or message.
pub(crate) fn request_ids() -> (Option<Arc<str>>, Option<Arc<str>>) {
    with_current(|context| {
        (
            Some(context.correlation_id.clone()),
            context.causation_id.clone(),
        )
    })
    .unwrap_or((None, None))
}

/// Runs `f` on the unrecorded server span of the running request, if it has one.
pub(crate) fn with_unrecorded_server<R>(mut f: impl FnMut(&UnrecordedServer) -> R) -> Option<R> {
    with_current(|context| context.server.as_ref().map(&mut f)).flatten()
}

/// The remote parent for a root span created now, if a scope provides one: the request's
/// unrecorded server span, else the caller's span.
pub(crate) fn remote_parent() -> Option<TraceParent> {
    if SUPPRESSED.with(Cell::get) {
        // A span that is never sampled, so its children are not either.
        return Some(TraceParent {
            trace_id: ids::trace_id(),
            span_id: ids::span_id(),
            sampled: false,
            trace_state: None,
        });
    }
    with_current(RequestContext::trace_parent).flatten()
}

/// Marks this thread as one whose spans are never exported.
pub(crate) fn suppress_tracing() {
    SUPPRESSED.with(|suppressed| suppressed.set(true));
}

/// Whether `id` may be used as a correlation or causation ID: 1 to [`MAX_ID_LEN`] bytes of
/// ASCII letters, digits, `-`, `_`, `.` and `:`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::ids::generate_id;

    #[test]
    fn generated_ids_are_valid_uuid_v4() {
        let id = generate_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(is_valid_id(&id));
        assert_ne!(id, generate_id());
    }

    #[test]
    fn ids_outside_the_safe_set_are_refused() {
        for bad in [
            "",
            "a b",
            "a\nb",
            "ä",
            "a\u{0}",
            "<script>",
            &"x".repeat(MAX_ID_LEN + 1),
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        for good in ["abc-123", "01HF8Z:ab.c_d", &"x".repeat(MAX_ID_LEN)] {
            assert!(is_valid_id(good), "{good:?}");
        }
    }

    #[test]
    fn a_thread_scope_is_restored_after_it_ends() {
        assert!(correlation_id().is_none());
        let inner = RequestContext::new_root();
        let id = inner.correlation_id().to_owned();
        let seen = inner.in_scope(correlation_id);
        assert_eq!(seen.as_deref(), Some(id.as_str()));
        assert!(correlation_id().is_none());
    }
}
