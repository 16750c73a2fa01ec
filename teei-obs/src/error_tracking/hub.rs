//! A hub per request and per message: its breadcrumbs, tags and user stay with it.
//!
//! Takes the IDs as text, not the `RequestContext`: the context's scope makes these hubs.

use std::sync::Arc;

use sentry::Hub;

/// The IDs a hub is tagged with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ids<'a> {
    pub(crate) correlation: &'a str,
    pub(crate) causation: Option<&'a str>,
}

impl Ids<'_> {
    fn tag(&self, hub: &Hub) {
        hub.configure_scope(|scope| {
            scope.set_tag("correlationId", self.correlation);
            if let Some(causation) = self.causation {
                scope.set_tag("causationId", causation);
            }
        });
    }
}

/// A fresh hub from the process hub's client and tags, with none of its breadcrumbs (those
/// belong to whatever ran outside requests) and no user, tagged with `ids`.
fn fresh(ids: Ids<'_>, service: Option<&str>) -> Arc<Hub> {
    let hub = Arc::new(Hub::new_from_top(Hub::main()));
    hub.configure_scope(|scope| {
        scope.clear_breadcrumbs();
        scope.set_user(None);
        if let Some(service) = service {
            scope.set_tag("service", service);
        }
    });
    ids.tag(&hub);
    hub
}

/// A hub for one HTTP request; `sentry-tower`'s layer adds the request's data to it.
pub(crate) fn request_hub(ids: Ids<'_>, service: &str) -> Arc<Hub> {
    fresh(ids, Some(service))
}

/// The hub [`RequestContext::scope`](crate::trace::RequestContext::scope) runs its future
/// in: inside a request's or message's hub (`nested`), a child of it (its breadcrumbs so
/// far, its tags); elsewhere a fresh one. A message's `(destination, event type)` become
/// tags. `None` while no Sentry client runs.
pub(crate) fn scope_hub(
    ids: Ids<'_>,
    message: Option<(&str, &str)>,
    nested: bool,
) -> Option<Arc<Hub>> {
    if !super::enabled() {
        return None;
    }
    let hub = if nested && Hub::current().client().is_some() {
        let hub = Arc::new(Hub::new_from_top(Hub::current()));
        ids.tag(&hub);
        hub
    } else {
        fresh(ids, super::service_name().as_deref())
    };
    if let Some((destination, event_type)) = message {
        hub.configure_scope(|scope| {
            scope.set_tag("messaging.destination", destination);
            scope.set_tag("eventType", event_type);
        });
    }
    Some(hub)
}
