//! Support for the integration tests: serving a router on loopback and speaking plain
//!
//! No annotated function lives here: every test binary counts its own registry entries.
//! HTTP/1.1 to it, so the tests exercise a real socket and a real HTTP parser.

pub mod corpus;
pub mod otlp;
pub mod sentry_endpoint;
pub mod servers;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as read off the wire.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines as `(lower-case name, value)`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `method path` to `addr` with `Connection: close` and reads the whole response.
///
/// Bounded: gives up after five seconds.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<Response> {
    request_with_headers(addr, method, path, &[]).await
}

/// Like [`request`], with extra header lines (sent byte for byte, so tests can send what a
/// hostile client would).
pub async fn request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut stream = TcpStream::connect(addr).await?;
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let head =
            format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        parse(&raw)
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no response in 5 s"))?
}

fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid("no header end"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> std::io::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk header")
        })?;
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The two ways teei-obs's sinks are wired, which every behaviour test of spans, logs and
/// Sentry runs against: `init`'s fast subscriber, and a standard `Registry` with
/// `Obs::layers()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wiring {
    /// `Obs::subscriber()`.
    Fast,
    /// `tracing_subscriber::registry().with(obs.layers())`.
    Composed,
}

impl Wiring {
    /// Both, in order.
    pub const BOTH: [Wiring; 2] = [Wiring::Fast, Wiring::Composed];

    /// The subscriber of this wiring for `obs`.
    pub fn dispatch(self, obs: &teei_obs::Obs) -> tracing::Dispatch {
        use tracing_subscriber::layer::SubscriberExt;
        match self {
            Wiring::Fast => tracing::Dispatch::new(obs.subscriber()),
            Wiring::Composed => {
                tracing::Dispatch::new(tracing_subscriber::registry().with(obs.layers()))
            }
        }
    }

    /// Runs `body` to completion on a current-thread runtime, with this wiring as the
    /// subscriber of the thread (so of every task the body spawns).
    pub fn run<F: std::future::Future>(self, obs: &teei_obs::Obs, body: F) -> F::Output {
        let _default = tracing::dispatcher::set_default(&self.dispatch(obs));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
            .block_on(body)
    }
}

/// Serves `router` on an ephemeral port of 127.0.0.1 for the rest of the test.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    addr
}

/// Spawns `command` (a service that prints `listening on ADDR` first, as the `graceful`
/// binary does; its stdout is piped here) and reads that line: the child, the address and
/// the rest of its stdout.
pub fn spawn_listening(
    mut command: std::process::Command,
) -> (
    std::process::Child,
    SocketAddr,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead as _;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the service starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("its first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("not `listening on ADDR`: {line:?}"));
    (child, addr, stdout)
}

/// The `message` of dependency `name` in a `/health` body; `None` without that dependency
/// or without a message.
pub fn dependency_message(body: &serde_json::Value, name: &str) -> Option<String> {
    body["dependencies"]
        .as_array()?
        .iter()
        .find(|d| d["name"] == name)
        .and_then(|d| d["message"].as_str())
        .map(str::to_owned)
}

/// The JSON log lines `obs` kept (`Config::capture_logs`) of the request or message with
/// correlation ID `correlation`; panics on a line that is not JSON.
pub fn json_lines_with(obs: &teei_obs::Obs, correlation: &str) -> Vec<serde_json::Value> {
    obs.recent_logs()
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON lines"))
        .filter(|line| line["correlationId"] == correlation)
        .collect()
}

/// The value of the sample `series` (name and labels exactly as exposed) in `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// This process's resident memory in KiB, from `/proc/self/status` (0 where unavailable).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// What a program said, run with `input` on its standard input.
#[derive(Debug)]
pub struct Ran {
    /// Whether it exited 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `program args…` with `input` on its standard input (promtool, a parser); panics
/// naming `install` when the program is missing.
pub fn run_with_input(program: &str, args: &[&str], input: &str, install: &str) -> Ran {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}: {install}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to the program");
    let output = child.wait_with_output().expect("the program's output");
    Ran {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
