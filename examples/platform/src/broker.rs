//! The embedded event broker the `platform` binary runs when no `NATS_URL` is given: a
//! development fixture so the main job needs nothing installed. It speaks the part of the
//! NATS protocol `async-nats` needs to connect unchanged — `INFO`, `CONNECT` with headers,
//! `PING`/`PONG`, `SUB`/`UNSUB` with `*` and `>` wildcards and queue groups, `PUB`/`HPUB`,
//! `MSG`/`HMSG` — so the services run the same client against it as against a real NATS
//! server (`NATS_URL`, and the platform's tests on `nats-server`). Not a NATS server: no
//! clustering, persistence, authentication or JetStream; it binds 127.0.0.1 only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const MAX_LINE: u64 = 4096;
const MAX_PAYLOAD: usize = 1024 * 1024;
/// Frames waiting for a slow subscriber before its messages are dropped (as NATS does
/// with slow consumers, it never blocks the publisher).
const OUTBOX: usize = 4096;

type Outbox = mpsc::Sender<Arc<[u8]>>;

#[derive(Default)]
struct Table {
    /// (connection, sid) → the subscription
    subscriptions: HashMap<(u64, String), Subscription>,
    /// Turns through queue groups' members, so each gets its share.
    turn: usize,
}

struct Subscription {
    pattern: String,
    /// A queue group: each message goes to one member of the group.
    queue: Option<String>,
    outbox: Outbox,
}

/// A running broker.
#[derive(Debug)]
pub struct Broker {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    dropped: Arc<AtomicU64>,
}

impl Broker {
    /// Binds `127.0.0.1:port` (0 for any free port) and serves until dropped.
    pub async fn start(port: u16) -> std::io::Result<Broker> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let table = Arc::new(Mutex::new(Table::default()));
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let task = tokio::spawn(async move {
            let mut next = 0u64;
            // The connections live as long as this task: stopping the broker closes them.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        next += 1;
                        connections.spawn(connection(next, stream, table.clone(), counter.clone()));
                    }
                    Some(_) = connections.join_next() => {}
                }
            }
        });
        Ok(Broker {
            addr,
            task,
            dropped,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nats://127.0.0.1:port`, for `NATS_URL`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Messages not delivered because a subscriber fell 4,096 frames behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `subject` matches `pattern` (`*` one token, `>` one or more trailing tokens).
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in pattern.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (token, Some(part)) if token == part => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

async fn connection(id: u64, stream: TcpStream, table: Arc<Mutex<Table>>, dropped: Arc<AtomicU64>) {
    let _ = stream.set_nodelay(true);
    // The port clients see in `INFO` (and health checks name): the one they reached.
    let port = stream.local_addr().map_or(0, |addr| addr.port());
    let (read, mut write) = stream.into_split();
    let (outbox, mut frames) = mpsc::channel::<Arc<[u8]>>(OUTBOX);
    // In this task, not a task of its own: stopping the broker stops it too.
    let writer = async move {
        while let Some(frame) = frames.recv().await {
            if write.write_all(&frame).await.is_err() {
                break;
            }
        }
    };
    let reader = async move {
        let info = format!(
            r#"INFO {{"server_id":"teei-platform-broker","server_name":"embedded","version":"2.10.0","proto":1,"headers":true,"max_payload":1048576,"host":"127.0.0.1","port":{port}}}"#
        );
        let _ = outbox.send(format!("{info}\r\n").into_bytes().into()).await;
        let mut reader = BufReader::new(read);
        let result = serve(id, &mut reader, &outbox, &table, &dropped).await;
        if let Err(error) = result {
            let _ = outbox.try_send(format!("-ERR '{error}'\r\n").into_bytes().into());
        }
        table
            .lock()
            .expect("broker table")
            .subscriptions
            .retain(|(connection, _), _| *connection != id);
        drop(outbox);
    };
    tokio::join!(writer, reader);
}

async fn serve(
    id: u64,
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    outbox: &Outbox,
    table: &Mutex<Table>,
    dropped: &AtomicU64,
) -> Result<(), String> {
    loop {
        let mut line = Vec::new();
        let read = (&mut *reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| e.to_string())?;
        if read == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            return Err("Maximum Control Line Exceeded".into());
        }
        let line = String::from_utf8_lossy(&line);
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some(verb) = words.first() else { continue };
        match verb.to_ascii_uppercase().as_str() {
            "CONNECT" | "PONG" => {}
            "PING" => {
                let _ = outbox.send(Arc::from(&b"PONG\r\n"[..])).await;
            }
            // SUB subject [queue] sid
            "SUB" if words.len() == 3 || words.len() == 4 => {
                let sid = words[words.len() - 1].to_owned();
                let subscription = Subscription {
                    pattern: words[1].to_owned(),
                    queue: (words.len() == 4).then(|| words[2].to_owned()),
                    outbox: outbox.clone(),
                };
                table
                    .lock()
                    .expect("broker table")
                    .subscriptions
                    .insert((id, sid), subscription);
            }
            "UNSUB" if words.len() >= 2 => {
                table
                    .lock()
                    .expect("broker table")
                    .subscriptions
                    .remove(&(id, words[1].to_owned()));
            }
            "PUB" | "HPUB" => {
                let headers = *verb == "HPUB";
                // PUB subject [reply] total; HPUB subject [reply] header total
                let sizes = if headers { 2 } else { 1 };
                if words.len() < 2 + sizes || words.len() > 3 + sizes {
                    return Err("Unknown Protocol Operation".into());
                }
                let number = |w: &str| w.parse::<usize>().map_err(|_| format!("bad size {w:?}"));
                let total = number(words[words.len() - 1])?;
                let header_len = if headers {
                    number(words[words.len() - 2])?
                } else {
                    0
                };
                if total > MAX_PAYLOAD {
                    return Err("Maximum Payload Violation".into());
                }
                if header_len > total {
                    return Err("bad header size".into());
                }
                let mut body = vec![0; total + 2];
                reader
                    .read_exact(&mut body)
                    .await
                    .map_err(|e| e.to_string())?;
                let subject = words[1];
                let reply = (words.len() == 3 + sizes).then(|| words[2]);
                deliver(
                    table,
                    dropped,
                    subject,
                    reply,
                    header_len,
                    headers,
                    &body[..total],
                );
            }
            _ => return Err("Unknown Protocol Operation".into()),
        }
    }
}

fn deliver(
    table: &Mutex<Table>,
    dropped: &AtomicU64,
    subject: &str,
    reply: Option<&str>,
    header_len: usize,
    headers: bool,
    body: &[u8],
) {
    let mut table = table.lock().expect("broker table");
    table.turn = table.turn.wrapping_add(1);
    let turn = table.turn;
    // Every plain subscriber, and one member of each queue group.
    let mut groups: HashMap<&str, Vec<(u64, &str, &Outbox)>> = HashMap::new();
    let mut receivers = Vec::new();
    for ((connection, sid), subscription) in &table.subscriptions {
        if !matches(&subscription.pattern, subject) {
            continue;
        }
        match &subscription.queue {
            Some(queue) => {
                groups
                    .entry(queue)
                    .or_default()
                    .push((*connection, sid, &subscription.outbox))
            }
            None => receivers.push((sid.as_str(), &subscription.outbox)),
        }
    }
    for mut members in groups.into_values() {
        // A stable order, so the turn picks a different member each time.
        members.sort_by_key(|(connection, sid, _)| (*connection, *sid));
        let (_, sid, outbox) = members[turn % members.len()];
        receivers.push((sid, outbox));
    }
    for (sid, outbox) in receivers {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let head = if headers {
            format!(
                "HMSG {subject} {sid}{reply} {header_len} {}\r\n",
                body.len()
            )
        } else {
            format!("MSG {subject} {sid}{reply} {}\r\n", body.len())
        };
        let mut frame = Vec::with_capacity(head.len() + body.len() + 2);
        frame.extend_from_slice(head.as_bytes());
        frame.extend_from_slice(body);
        frame.extend_from_slice(b"\r\n");
        if outbox.try_send(frame.into()).is_err() {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn line(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
        let mut line = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            reader.read_line(&mut line),
        )
        .await
        .expect("the broker answers")
        .unwrap();
        line
    }

    #[tokio::test]
    async fn nonsense_and_oversized_messages_are_refused_and_the_broker_lives_on() {
        let broker = Broker::start(0).await.unwrap();
        for (input, error) in [
            (&b"HELLO there\r\n"[..], "-ERR 'Unknown Protocol Operation'"),
            (
                b"PUB subject 2000000\r\n",
                "-ERR 'Maximum Payload Violation'",
            ),
            (b"HPUB subject 10 5\r\n", "-ERR 'bad header size'"),
        ] {
            let (read, mut write) = TcpStream::connect(broker.addr())
                .await
                .unwrap()
                .into_split();
            let mut reader = BufReader::new(read);
            assert!(line(&mut reader).await.starts_with("INFO "));
            write.write_all(input).await.unwrap();
            assert_eq!(line(&mut reader).await.trim_end(), error);
            assert_eq!(line(&mut reader).await, "", "the connection is closed");
        }
        // Still serving.
        let (read, mut write) = TcpStream::connect(broker.addr())
            .await
            .unwrap()
            .into_split();
        let mut reader = BufReader::new(read);
        line(&mut reader).await;
        write.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(line(&mut reader).await.trim_end(), "PONG");
    }

    /// A bus on the real `async-nats` client, connected to `broker`.
    async fn bus(broker: &Broker, name: &str, obs: &teei_obs::Obs) -> crate::bus::Bus {
        let client = crate::bus::client(&broker.url(), name).await.unwrap();
        // Connected before the test goes on: the client connects in the background.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while client.connection_state() != async_nats::connection::State::Connected {
            assert!(
                std::time::Instant::now() < deadline,
                "async-nats did not connect"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        crate::bus::Bus::new(client, obs.standard_metrics().clone())
    }

    async fn next(messages: &mut mpsc::Receiver<crate::bus::Message>) -> crate::bus::Message {
        tokio::time::timeout(std::time::Duration::from_secs(5), messages.recv())
            .await
            .expect("a message within 5 s")
            .expect("the subscription is open")
    }

    #[tokio::test]
    async fn async_nats_reaches_wildcard_subscribers_with_the_publishers_context() {
        let broker = Broker::start(0).await.unwrap();
        let obs =
            teei_obs::init(teei_obs::Config::new("bus-test").install_subscriber(false)).unwrap();
        let subscriber = bus(&broker, "sub", &obs).await;
        let mut messages = subscriber.subscribe("profile.*").await.unwrap();
        let mut others = subscriber.subscribe("kintell.>").await.unwrap();
        // The subscriptions are at the broker once a round trip through it came back.
        let checked = teei_obs::health::nats(subscriber.client()).await.unwrap();
        // The health message names the broker's real address (INFO carries its port).
        assert!(
            checked.starts_with(&format!("NATS connected to {}: ", broker.addr())),
            "{checked}"
        );
        let publisher = bus(&broker, "pub", &obs).await;
        let mut headers = teei_obs::trace::MessageHeaders::default();
        headers.insert("x-correlation-id", "order-7");
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        teei_obs::trace::RequestContext::extract(&headers)
            .scope(publisher.publish("profile.viewed", b"{\"id\":\"user123\"}"))
            .await
            .unwrap();
        let message = next(&mut messages).await;
        assert_eq!(message.subject, "profile.viewed");
        assert_eq!(message.payload, b"{\"id\":\"user123\"}");
        let received = message.context();
        assert_eq!(received.correlation_id(), "order-7");
        assert_eq!(
            received.trace_id().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert!(
            others.try_recv().is_err(),
            "kintell.> must not see profile events"
        );
        assert_eq!(broker.dropped(), 0);
        let text = obs.render_metrics();
        assert!(
            text.contains(r#"events_published_total{type="profile.viewed"}"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_queue_group_shares_the_messages_and_a_plain_subscriber_gets_them_all() {
        let broker = Broker::start(0).await.unwrap();
        let obs =
            teei_obs::init(teei_obs::Config::new("queue-test").install_subscriber(false)).unwrap();
        let (one, two, all) = (
            bus(&broker, "one", &obs).await,
            bus(&broker, "two", &obs).await,
            bus(&broker, "all", &obs).await,
        );
        let mut first = one.queue_subscribe("orders.*", "billing").await.unwrap();
        let mut second = two.queue_subscribe("orders.*", "billing").await.unwrap();
        let mut every = all.subscribe("orders.>").await.unwrap();
        for bus in [&one, &two, &all] {
            teei_obs::health::nats(bus.client()).await.unwrap();
        }
        const SENT: usize = 20;
        for n in 0..SENT {
            all.publish("orders.created", format!("{n}").as_bytes())
                .await
                .unwrap();
        }
        for _ in 0..SENT {
            next(&mut every).await;
        }
        // Every message reached the group once: the two members' shares add up.
        let (mut a, mut b) = (0, 0);
        while a + b < SENT {
            tokio::select! {
                Some(_) = first.recv() => a += 1,
                Some(_) = second.recv() => b += 1,
                () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {
                    panic!("the group got {a} + {b} of {SENT}")
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            first.try_recv().is_err() && second.try_recv().is_err(),
            "delivered twice"
        );
        assert!(a > 0 && b > 0, "both members take a share: {a} and {b}");
    }

    #[tokio::test]
    async fn async_nats_reconnects_when_the_broker_comes_back() {
        let broker = Broker::start(0).await.unwrap();
        let port = broker.addr().port();
        let obs = teei_obs::init(teei_obs::Config::new("reconnect-test").install_subscriber(false))
            .unwrap();
        let consumer = bus(&broker, "consumer", &obs).await;
        let mut messages = consumer.subscribe("profile.updated").await.unwrap();
        // As the health manager runs it: bounded by a timeout.
        let healthy = async || {
            let check = teei_obs::health::nats(consumer.client());
            matches!(
                tokio::time::timeout(std::time::Duration::from_secs(1), check).await,
                Ok(Ok(_))
            )
        };
        drop(broker);
        // Down: the check says so.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while healthy().await {
            assert!(std::time::Instant::now() < deadline, "never noticed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let broker = Broker::start(port).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !healthy().await {
            assert!(std::time::Instant::now() < deadline, "never reconnected");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Its subscription came back with it.
        let publisher = bus(&broker, "publisher", &obs).await;
        publisher
            .publish("profile.updated", b"again")
            .await
            .unwrap();
        assert_eq!(next(&mut messages).await.payload, b"again");
    }

    #[test]
    fn wildcards() {
        assert!(matches("profile.updated", "profile.updated"));
        assert!(matches("profile.*", "profile.updated"));
        assert!(!matches("profile.*", "profile.updated.v2"));
        assert!(matches("profile.>", "profile.updated.v2"));
        assert!(!matches("profile.>", "profile"));
        assert!(!matches("profile", "profile.updated"));
        assert!(matches(">", "anything.at.all"));
        assert!(!matches("kintell.*", "profile.updated"));
    }
}
