//! The event bus: a small client of the NATS protocol (the subset with headers that a
//! service needs: publish, subscribe, ping), so the same code talks to a real NATS server
//! (`NATS_URL`) or the broker the `platform` binary embeds.
//!
//! Every message carries the publisher's trace context and correlation ID in its headers
//! (`traceparent`, `x-correlation-id`, …), and [`consume`] runs each handler in that
//! context, so a trace runs from the HTTP request through every service the events reach.
//! Publishing and handling feed `events_published_total`, `events_processed_total`,
//! `event_processing_duration_seconds` and `queue_size`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use teei_obs::metrics::StandardMetrics;
use teei_obs::trace::{MessageHeaders, RequestContext};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, mpsc};

/// The largest control line or message accepted from the server.
const MAX_LINE: usize = 4096;
const MAX_PAYLOAD: usize = 1024 * 1024;

/// Why the bus refused.
#[derive(Debug)]
pub enum BusError {
    /// `NATS_URL` is not `nats://host:port` or `host:port`.
    InvalidUrl(String),
    /// The connection failed or broke.
    Io(std::io::Error),
    /// The server said something this client does not accept.
    Protocol(String),
    /// The connection is down and being re-established.
    Disconnected,
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::InvalidUrl(url) => {
                write!(f, "invalid NATS URL {url:?}: expected nats://host:port")
            }
            BusError::Io(error) => write!(f, "event bus connection failed: {error}"),
            BusError::Protocol(what) => write!(f, "event bus protocol error: {what}"),
            BusError::Disconnected => f.write_str("event bus disconnected; reconnecting"),
        }
    }
}

impl std::error::Error for BusError {}

impl From<std::io::Error> for BusError {
    fn from(error: std::io::Error) -> Self {
        BusError::Io(error)
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

/// A connection to the bus; cheap to clone.
#[derive(Clone, Debug)]
pub struct Bus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    addr: String,
    name: String,
    writer: Mutex<Option<OwnedWriteHalf>>,
    subscriptions: std::sync::Mutex<HashMap<u64, (String, mpsc::Sender<Message>)>>,
    next_sid: AtomicU64,
    metrics: StandardMetrics,
}

impl Bus {
    /// Connects to `url` (`nats://host:port` or `host:port`) as `name`. The connection is
    /// re-established, subscriptions included, whenever it breaks.
    pub async fn connect(url: &str, name: &str, metrics: StandardMetrics) -> Result<Bus, BusError> {
        let addr = url.strip_prefix("nats://").unwrap_or(url);
        if addr.is_empty() || !addr.contains(':') || addr.contains('/') {
            return Err(BusError::InvalidUrl(url.to_owned()));
        }
        let (reader, writer) = handshake(addr, name).await?;
        let inner = Arc::new(Inner {
            addr: addr.to_owned(),
            name: name.to_owned(),
            writer: Mutex::new(Some(writer)),
            subscriptions: Default::default(),
            next_sid: AtomicU64::new(1),
            metrics,
        });
        tokio::spawn(read_loop(Arc::downgrade(&inner), reader));
        Ok(Bus { inner })
    }

    /// `host:port` of the server, for [`teei_obs::health::nats_ping`].
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Publishes `payload` on `subject` with the current trace context and correlation ID
    /// in the headers.
    pub async fn publish(&self, subject: &str, payload: &[u8]) -> Result<(), BusError> {
        check_subject(subject)?;
        let mut headers = MessageHeaders::default();
        teei_obs::trace::inject(&mut headers);
        let mut head = String::from("NATS/1.0\r\n");
        for (name, value) in headers.iter() {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut frame = format!(
            "HPUB {subject} {} {}\r\n",
            head.len(),
            head.len() + payload.len()
        )
        .into_bytes();
        frame.extend_from_slice(head.as_bytes());
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        self.write(&frame).await?;
        self.inner.metrics.event_published(subject);
        Ok(())
    }

    /// Subscribes to `subject` (`*` and `>` wildcards allowed); messages arrive on the
    /// returned channel, which holds up to 1,024 before the connection waits for it.
    pub async fn subscribe(&self, subject: &str) -> Result<mpsc::Receiver<Message>, BusError> {
        let sid = self.inner.next_sid.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::channel(1024);
        self.inner
            .subscriptions
            .lock()
            .expect("subscription table")
            .insert(sid, (subject.to_owned(), sender));
        self.write(format!("SUB {subject} {sid}\r\n").as_bytes())
            .await?;
        Ok(receiver)
    }

    async fn write(&self, frame: &[u8]) -> Result<(), BusError> {
        let mut writer = self.inner.writer.lock().await;
        let Some(stream) = writer.as_mut() else {
            return Err(BusError::Disconnected);
        };
        if let Err(error) = stream.write_all(frame).await {
            *writer = None;
            return Err(error.into());
        }
        Ok(())
    }
}

fn check_subject(subject: &str) -> Result<(), BusError> {
    if subject.is_empty() || subject.contains(|c: char| c.is_whitespace() || c == '*' || c == '>') {
        return Err(BusError::Protocol(format!(
            "cannot publish on subject {subject:?}"
        )));
    }
    Ok(())
}

async fn handshake(
    addr: &str,
    name: &str,
) -> Result<(BufReader<OwnedReadHalf>, OwnedWriteHalf), BusError> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| BusError::Protocol(format!("connecting to {addr} timed out")))??;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let info = read_line(&mut reader).await?;
    let Some(info) = info.strip_prefix("INFO ") else {
        return Err(BusError::Protocol(format!("expected INFO, got {info:?}")));
    };
    let info: serde_json::Value = serde_json::from_str(info)
        .map_err(|e| BusError::Protocol(format!("unreadable INFO: {e}")))?;
    if info.get("headers") != Some(&serde_json::Value::Bool(true)) {
        return Err(BusError::Protocol(
            "the server does not support message headers (NATS 2.2 or later needed)".into(),
        ));
    }
    let connect = serde_json::json!({
        "verbose": false, "pedantic": false, "headers": true, "lang": "rust",
        "version": env!("CARGO_PKG_VERSION"), "protocol": 1, "name": name,
    });
    write
        .write_all(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .await?;
    loop {
        let line = read_line(&mut reader).await?;
        match line.as_str() {
            "PONG" => return Ok((reader, write)),
            "+OK" => continue,
            other if other.starts_with("INFO ") => continue,
            other => return Err(BusError::Protocol(format!("CONNECT refused: {other}"))),
        }
    }
}

async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> Result<String, BusError> {
    let mut line = Vec::with_capacity(64);
    let read = (&mut *reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if read == 0 {
        return Err(BusError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if line.last() != Some(&b'\n') {
        return Err(BusError::Protocol("control line too long".into()));
    }
    let line = String::from_utf8(line).map_err(|_| BusError::Protocol("non-UTF-8 line".into()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads messages until the connection breaks, then reconnects (with backoff, up to 2 s
/// between attempts) and subscribes again; stops when the [`Bus`] is dropped.
async fn read_loop(inner: std::sync::Weak<Inner>, mut reader: BufReader<OwnedReadHalf>) {
    loop {
        let error = loop {
            match read_frame(&inner, &mut reader).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => break error,
            }
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let Some(bus) = inner.upgrade() else { return };
            *bus.writer.lock().await = None;
            tracing::warn!(%error, addr = %bus.addr, "event bus connection lost; reconnecting");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            if let Ok((new_reader, mut writer)) = handshake(&bus.addr, &bus.name).await {
                let subs: String = bus
                    .subscriptions
                    .lock()
                    .expect("subscription table")
                    .iter()
                    .map(|(sid, (subject, _))| format!("SUB {subject} {sid}\r\n"))
                    .collect();
                if writer.write_all(subs.as_bytes()).await.is_ok() {
                    *bus.writer.lock().await = Some(writer);
                    reader = new_reader;
                    tracing::info!(addr = %bus.addr, "event bus reconnected");
                    break;
                }
            }
        }
    }
}

/// Reads and dispatches one frame; `Ok(false)` when the bus is gone.
async fn read_frame(
    inner: &std::sync::Weak<Inner>,
    reader: &mut BufReader<OwnedReadHalf>,
) -> Result<bool, BusError> {
    let line = read_line(reader).await?;
    let Some(bus) = inner.upgrade() else {
        return Ok(false);
    };
    let mut words = line.split_ascii_whitespace();
    match words.next() {
        Some("PING") => {
            if let Some(writer) = bus.writer.lock().await.as_mut() {
                writer.write_all(b"PONG\r\n").await?;
            }
        }
        Some("PONG" | "+OK" | "INFO") => {}
        Some("-ERR") => tracing::warn!(addr = %bus.addr, "event bus error: {line}"),
        Some(verb @ ("MSG" | "HMSG")) => {
            let words: Vec<&str> = words.collect();
            let numbers = |n: &str| {
                n.parse::<usize>()
                    .ok()
                    .filter(|&n| n <= MAX_PAYLOAD)
                    .ok_or_else(|| BusError::Protocol(format!("bad size in {line:?}")))
            };
            // MSG subject sid [reply] total; HMSG subject sid [reply] header total
            let (header_len, total) = match (verb, words.len()) {
                ("MSG", 3 | 4) => (0, numbers(words[words.len() - 1])?),
                ("HMSG", 4 | 5) => (
                    numbers(words[words.len() - 2])?,
                    numbers(words[words.len() - 1])?,
                ),
                _ => return Err(BusError::Protocol(format!("malformed {line:?}"))),
            };
            if header_len > total {
                return Err(BusError::Protocol(format!("malformed {line:?}")));
            }
            let mut body = vec![0; total + 2];
            reader.read_exact(&mut body).await?;
            body.truncate(total);
            let payload = body.split_off(header_len);
            let message = Message {
                subject: words[0].to_owned(),
                headers: parse_headers(&body),
                payload,
            };
            let sid: u64 = words[1].parse().unwrap_or(0);
            let sender = bus
                .subscriptions
                .lock()
                .expect("subscription table")
                .get(&sid)
                .map(|(_, sender)| sender.clone());
            if let Some(sender) = sender {
                // Waiting here is the back-pressure: the server buffers meanwhile.
                let _ = sender.send(message).await;
            }
        }
        _ => return Err(BusError::Protocol(format!("unexpected {line:?}"))),
    }
    Ok(true)
}

/// `NATS/1.0\r\nName: value\r\n…\r\n\r\n` into headers; lines that are not `name: value`
/// are skipped.
fn parse_headers(block: &[u8]) -> MessageHeaders {
    let mut headers = MessageHeaders::default();
    let text = String::from_utf8_lossy(block);
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim());
        }
    }
    headers
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
    fn headers_parse_and_bad_lines_are_skipped() {
        let headers = parse_headers(
            b"NATS/1.0\r\nTraceparent: 00-abc\r\nnonsense\r\nX-Correlation-ID:  c1 \r\n\r\n",
        );
        assert_eq!(headers.get("traceparent"), Some("00-abc"));
        assert_eq!(headers.get("x-correlation-id"), Some("c1"));
        assert_eq!(headers.iter().count(), 2);
    }

    #[test]
    fn wildcards_cannot_be_published_on() {
        assert!(check_subject("profile.updated").is_ok());
        for bad in ["", "profile.*", "profile.>", "a b"] {
            assert!(check_subject(bad).is_err(), "{bad:?}");
        }
    }
}
