//! Ready-made probes for the dependencies of a typical service. Wrap them in a
//! `#[health_check]` of your own, which gives the check its name, kind and timing.

#[cfg(feature = "nats")]
use std::time::Duration;

#[cfg(feature = "nats")]
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// `GET url`, healthy on a 2xx answer. Plain HTTP; bounded by the check's timeout.
///
/// ```no_run
/// #[teei_obs::health_check(kind = "http", name = "unified-profile")]
/// async fn profile() -> Result<(), String> {
///     teei_obs::health::http_get("http://127.0.0.1:3001/health").await
/// }
/// ```
pub async fn http_get(url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url
        .parse()
        .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("no host in {url:?}"))?;
    let port = uri.port_u16().unwrap_or(80);
    if uri.scheme_str() != Some("http") {
        return Err(format!("only http:// URLs are checked, not {url:?}"));
    }
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake with {host}:{port} failed: {e}"))?;
    tokio::spawn(connection);
    let request = axum::http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(axum::http::header::HOST, host)
        .body(axum::body::Body::empty())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET {url} failed: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("GET {url} answered {}", response.status()))
    }
}

/// Connects to PostgreSQL with `connection` (a `tokio_postgres` connection string) and runs
/// `SELECT 1`. A new connection each run, so a restarted server is seen at the next run.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub async fn postgres_select_1(connection: &str) -> Result<(), String> {
    let (client, driver) = tokio_postgres::connect(connection, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let driver = tokio::spawn(driver);
    let result = client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| format!("SELECT 1 failed: {e}"));
    drop(client);
    driver.abort();
    result
}

/// Without the `postgres` feature: always an error saying so.
#[cfg(not(feature = "postgres"))]
pub async fn postgres_select_1(_connection: &str) -> Result<(), String> {
    Err("teei-obs was built without its `postgres` feature".to_owned())
}

/// Connects to a NATS server at `addr` (`host:port`), reads its `INFO`, sends `CONNECT`
/// and `PING`, and expects `PONG`: the protocol's own liveness exchange.
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub async fn nats_ping(addr: &str) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to NATS at {addr}: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let first = next_line(&mut lines).await?;
    if !first.starts_with("INFO ") {
        return Err(format!(
            "NATS at {addr} did not introduce itself: {first:?}"
        ));
    }
    write
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"teei-obs health\"}\r\nPING\r\n")
        .await
        .map_err(|e| format!("cannot write to NATS at {addr}: {e}"))?;
    loop {
        let line = next_line(&mut lines).await?;
        match line.as_str() {
            "PONG" => return Ok(()),
            "+OK" | "PING" => continue,
            other if other.starts_with("-ERR") => {
                return Err(format!("NATS at {addr} refused: {other}"));
            }
            other => return Err(format!("unexpected NATS reply {other:?}")),
        }
    }
}

/// Without the `nats` feature: always an error saying so.
#[cfg(not(feature = "nats"))]
pub async fn nats_ping(_addr: &str) -> Result<(), String> {
    Err("teei-obs was built without its `nats` feature".to_owned())
}

#[cfg(feature = "nats")]
async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
) -> Result<String, String> {
    match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
        Ok(Ok(Some(line))) if line.len() <= 64 * 1024 => Ok(line),
        Ok(Ok(Some(_))) => Err("NATS line longer than 64 KiB".to_owned()),
        Ok(Ok(None)) => Err("NATS closed the connection".to_owned()),
        Ok(Err(e)) => Err(format!("reading from NATS: {e}")),
        Err(_) => Err("NATS did not answer".to_owned()),
    }
}
