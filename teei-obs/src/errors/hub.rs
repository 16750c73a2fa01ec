//! A hub per request and per message: its breadcrumbs, tags and user stay with it.

use std::sync::Arc;

use sentry::Hub;

/// A fresh hub from the process hub's client and tags, with none of its breadcrumbs (those
/// belong to whatever ran outside requests), tagged with the context's IDs.
fn fresh(context: &crate::trace::RequestContext, service: Option<&str>) -> Arc<Hub> {
    let hub = Arc::new(Hub::new_from_top(Hub::main()));
    hub.configure_scope(|scope| {
        scope.clear_breadcrumbs();
        scope.set_user(None);
        scope.set_tag("correlationId", context.correlation_id());
        if let Some(causation) = context.causation_id() {
            scope.set_tag("causationId", causation);
        }
        if let Some(service) = service {
            scope.set_tag("service", service);
        }
    });
    hub
}

/// A hub for one HTTP request; `sentry-tower`'s layer adds the request's data to it.
pub(crate) fn request_hub(context: &crate::trace::RequestContext, service: &str) -> Arc<Hub> {
    fresh(context, Some(service))
}

/// The hub [`RequestContext::scope`](crate::trace::RequestContext::scope) runs its future
/// in: inside a request's or message's hub, a child of it (its breadcrumbs so far, its
/// tags); elsewhere a fresh one. `None` while no Sentry client runs.
pub(crate) fn scope_hub(context: &crate::trace::RequestContext, nested: bool) -> Option<Arc<Hub>> {
    if !super::enabled() {
        return None;
    }
    let hub = if nested && Hub::current().client().is_some() {
        let hub = Arc::new(Hub::new_from_top(Hub::current()));
        hub.configure_scope(|scope| {
            scope.set_tag("correlationId", context.correlation_id());
            if let Some(causation) = context.causation_id() {
                scope.set_tag("causationId", causation);
            }
        });
        hub
    } else {
        fresh(context, super::service_name().as_deref())
    };
    if let Some(message) = &context.message {
        hub.configure_scope(|scope| {
            scope.set_tag("messaging.destination", &message.destination);
            scope.set_tag("eventType", &message.event_type);
        });
    }
    Some(hub)
}
