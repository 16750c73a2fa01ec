//! The event bus, on `async-nats`: the same client code talks to a real NATS server
//! (`NATS_URL`) or the broker the `platform` binary embeds for development. The client
//! connects in the background and reconnects by itself; publishes made meanwhile wait in
//! its buffer.
//!
//! Every message carries the publisher's trace context and correlation ID in its headers
//! (`traceparent`, `x-correlation-id`, …), and [`consume`] runs each handler in that
//! context, so a trace runs from the HTTP request through every service the events reach.
//! Publishing and handling feed `events_published_total`, `events_processed_total`,
//! `event_processing_duration_seconds` and `queue_size`.

use std::time::Instant;

use futures_util::StreamExt as _;
use teei_obs::metrics::StandardMetrics;
use teei_obs::trace::{MessageHeaders, RequestContext};
use tokio::sync::mpsc;

/// Why the bus refused.
#[derive(Debug)]
pub enum BusError {
    /// `NATS_URL` is not a NATS server address.
    InvalidUrl(String),
    /// The client could not be set up.
    Connect(async_nats::ConnectError),
    /// A subject that cannot be published on (a wildcard, whitespace).
    Subject(String),
    /// The client refused the message (closed, or the message too large).
    Publish(async_nats::PublishError),
    /// The client refused the subscription.
    Subscribe(async_nats::SubscribeError),
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::InvalidUrl(url) => {
                write!(f, "invalid NATS URL {url:?}: expected nats://host:port")
            }
            BusError::Connect(error) => write!(f, "event bus: {error}"),
            BusError::Subject(subject) => write!(f, "cannot publish on subject {subject:?}"),
            BusError::Publish(error) => write!(f, "event bus publish failed: {error}"),
            BusError::Subscribe(error) => write!(f, "event bus subscribe failed: {error}"),
        }
    }
}

impl std::error::Error for BusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BusError::Connect(error) => Some(error),
            BusError::Publish(error) => Some(error),
            BusError::Subscribe(error) => Some(error),
            BusError::InvalidUrl(_) | BusError::Subject(_) => None,
        }
    }
}

/// A message received from the bus.
#[derive(Debug)]
pub struct Message {
    /// The subject it was published on.
    pub subject: String,
    /// Its headers, trace context among them.
    pub headers: MessageHeaders,
    /// Its body.
    pub payload: Vec<u8>,
}

impl Message {
    /// The publisher's trace context and correlation ID.
    pub fn context(&self) -> RequestContext {
        RequestContext::extract(&self.headers)
    }
}

/// A NATS client for `url` (`nats://host:port` or `host:port`) named `name`. It connects in
/// the background and reconnects whenever the connection breaks, so a service can start
/// before the server and a health check can take the client as its state at once.
pub async fn client(url: &str, name: &str) -> Result<async_nats::Client, BusError> {
    let address: async_nats::ServerAddr = url
        .parse()
        .map_err(|_| BusError::InvalidUrl(url.to_owned()))?;
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connect(address)
        .await
        .map_err(BusError::Connect)
}

/// The event bus of a service: its NATS client and the metrics publishing feeds; cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct Bus {
    client: async_nats::Client,
    metrics: StandardMetrics,
    /// Held by every clone: the connection gauge's watcher stops with the last.
    _alive: std::sync::Arc<()>,
}

impl Bus {
    /// The bus on `client`, counting in `metrics`; `active_connections{type="nats"}` follows
    /// the client's connection (read twice a second: async-nats reports state changes
    /// only to a callback set before the client exists).
    pub fn new(client: async_nats::Client, metrics: StandardMetrics) -> Bus {
        let open = metrics.active_connections("nats");
        let watched = client.clone();
        let alive = std::sync::Arc::new(());
        let bus_alive = std::sync::Arc::downgrade(&alive);
        tokio::spawn(async move {
            // Until the last clone of the bus is dropped.
            while bus_alive.strong_count() > 0 {
                let connected =
                    watched.connection_state() == async_nats::connection::State::Connected;
                open.set(i64::from(connected));
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        });
        Bus {
            client,
            metrics,
            _alive: alive,
        }
    }

    /// The NATS client, for [`teei_obs::health::nats`].
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Publishes `payload` on `subject` with the current trace context and correlation ID
    /// in the headers.
    pub async fn publish(&self, subject: &str, payload: &[u8]) -> Result<(), BusError> {
        check_subject(subject)?;
        let mut headers = MessageHeaders::default();
        teei_obs::trace::inject(&mut headers);
        self.client
            .publish_with_headers(
                subject.to_owned(),
                to_nats(&headers),
                payload.to_vec().into(),
            )
            .await
            .map_err(BusError::Publish)?;
        self.metrics.event_published(subject);
        Ok(())
    }

    /// Subscribes to `subject` (`*` and `>` wildcards allowed); messages arrive on the
    /// returned channel, which holds up to 1,024 (its length is the `queue_size` gauge).
    pub async fn subscribe(&self, subject: &str) -> Result<mpsc::Receiver<Message>, BusError> {
        let subscriber = self
            .client
            .subscribe(subject.to_owned())
            .await
            .map_err(BusError::Subscribe)?;
        Ok(forward(subscriber))
    }

    /// Subscribes to `subject` in queue group `queue`: each message goes to one member of
    /// the group, so consumers of one service scale out.
    pub async fn queue_subscribe(
        &self,
        subject: &str,
        queue: &str,
    ) -> Result<mpsc::Receiver<Message>, BusError> {
        let subscriber = self
            .client
            .queue_subscribe(subject.to_owned(), queue.to_owned())
            .await
            .map_err(BusError::Subscribe)?;
        Ok(forward(subscriber))
    }
}

/// Moves a subscription's messages onto a bounded channel; dropping the channel ends the
/// subscription.
fn forward(mut subscriber: async_nats::Subscriber) -> mpsc::Receiver<Message> {
    let (sender, receiver) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            let message = Message {
                subject: message.subject.to_string(),
                headers: from_nats(message.headers.as_ref()),
                payload: message.payload.to_vec(),
            };
            if sender.send(message).await.is_err() {
                break;
            }
        }
    });
    receiver
}

fn to_nats(headers: &MessageHeaders) -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    for (name, value) in headers.iter() {
        map.append(name, value);
    }
    map
}

fn from_nats(headers: Option<&async_nats::HeaderMap>) -> MessageHeaders {
    let mut ours = MessageHeaders::default();
    for (name, values) in headers.into_iter().flat_map(|h| h.iter()) {
        for value in values {
            ours.insert(name.to_string().to_ascii_lowercase(), value.as_str());
        }
    }
    ours
}

fn check_subject(subject: &str) -> Result<(), BusError> {
    if subject.is_empty() || subject.contains(|c: char| c.is_whitespace() || c == '*' || c == '>') {
        return Err(BusError::Subject(subject.to_owned()));
    }
    Ok(())
}

/// Runs `handler` for every message of `messages`, each in the trace context and
/// correlation ID its publisher sent and in a Sentry hub of its own (tagged with those IDs,
/// the subject and the event type: a failure is reported there, with only that message's
/// breadcrumbs), and counts it in `events_processed_total{type,status}` and
/// `event_processing_duration_seconds` (the type is the subject) — the consumer side of
/// [`Bus::publish`]. Returns when the channel closes.
pub async fn consume<F, Fut, E>(
    queue: &str,
    mut messages: mpsc::Receiver<Message>,
    metrics: StandardMetrics,
    mut handler: F,
) where
    F: FnMut(Message) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    while let Some(message) = messages.recv().await {
        metrics.queue_size(queue, messages.len() as i64);
        let subject = message.subject.clone();
        let started = Instant::now();
        let context = message
            .context()
            .for_message(subject.as_str(), event_type(&subject));
        let handled = handler(message);
        let result = context
            .scope(async {
                let result = handled.await;
                if let Err(error) = &result {
                    // Inside the message's scope: its hub, its IDs, its breadcrumbs.
                    tracing::error!(%error, subject, "event handling failed");
                }
                result
            })
            .await;
        metrics.event_processed(&subject, result.is_ok(), started.elapsed());
    }
}

/// The event type a subject carries: `profile.updated` is `ProfileUpdated`.
fn event_type(subject: &str) -> String {
    subject
        .split(['.', '_', '-'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_names_its_event_type() {
        assert_eq!(event_type("profile.updated"), "ProfileUpdated");
        assert_eq!(event_type("buddy.match_created"), "BuddyMatchCreated");
        assert_eq!(event_type("x"), "X");
    }

    #[test]
    fn headers_cross_to_nats_and_back() {
        let mut ours = MessageHeaders::default();
        ours.insert("traceparent", "00-abc");
        ours.insert("x-correlation-id", "c1");
        let back = from_nats(Some(&to_nats(&ours)));
        assert_eq!(back.get("traceparent"), Some("00-abc"));
        assert_eq!(back.get("x-correlation-id"), Some("c1"));
        assert_eq!(back.iter().count(), 2);
        assert_eq!(from_nats(None).iter().count(), 0);
    }

    #[test]
    fn wildcards_cannot_be_published_on() {
        assert!(check_subject("profile.updated").is_ok());
        for bad in ["", "profile.*", "profile.>", "a b"] {
            assert!(check_subject(bad).is_err(), "{bad:?}");
        }
    }
}
