//! Ready-made probes for the dependencies of a typical service. Wrap them in a
//! `#[health_check]` of your own, which gives the check its name, kind and timing.

/// `GET url` through a shared `reqwest` client (rustls; redirects, `HTTP(S)_PROXY` and
/// timeouts as reqwest has them), healthy on a 2xx answer; the message says the status and
/// how long it took ("200 OK in 3.1 ms"). Bounded by the check's timeout. For another CA,
/// client or healthy statuses, see [`HttpCheck`].
///
/// ```no_run
/// #[teei_obs::health_check(kind = "http", name = "unified-profile")]
/// async fn profile() -> Result<String, String> {
///     teei_obs::health::http_get("https://profile.internal/health").await
/// }
/// ```
#[cfg(feature = "http-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-check")))]
pub async fn http_get(url: &str) -> Result<String, String> {
    HttpCheck::new(url).run().await
}

/// Without the `http-check` feature: always an error saying so.
#[cfg(not(feature = "http-check"))]
pub async fn http_get(_url: &str) -> Result<String, String> {
    Err("teei-obs was built without its `http-check` feature".to_owned())
}

/// An HTTP dependency check: `GET` a URL, judge the status.
///
/// ```
/// # #[cfg(feature = "http-check")] {
/// use teei_obs::health::HttpCheck;
///
/// let check = HttpCheck::new("https://search.internal/ping")
///     // Only 200: this service answers 204 while it drains.
///     .healthy_statuses(200..=200)
///     .client(reqwest::Client::builder().https_only(true).build().unwrap());
/// # let _ = check;
/// # }
/// ```
#[cfg(feature = "http-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-check")))]
#[derive(Clone, Debug)]
pub struct HttpCheck {
    client: reqwest::Client,
    url: String,
    healthy: std::ops::RangeInclusive<u16>,
}

#[cfg(feature = "http-check")]
impl HttpCheck {
    /// A check of `url` with the shared client, healthy on 2xx.
    pub fn new(url: impl Into<String>) -> Self {
        static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
        let client = SHARED.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("teei-obs-health/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(std::time::Duration::from_secs(5))
                .build()
                // Only a TLS back end that cannot start fails here; reqwest's default
                // client would fail the same way, and it is what is left to try.
                .unwrap_or_default()
        });
        HttpCheck {
            client: client.clone(),
            url: url.into(),
            healthy: 200..=299,
        }
    }

    /// Uses `client` (a private CA, client certificates, a proxy of its own).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// The statuses that count as healthy (default `200..=299`).
    pub fn healthy_statuses(mut self, statuses: std::ops::RangeInclusive<u16>) -> Self {
        self.healthy = statuses;
        self
    }

    /// Runs the check once.
    pub async fn run(&self) -> Result<String, String> {
        let started = std::time::Instant::now();
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("GET {} failed: {}", self.url, crate::error_chain(&e)))?;
        let status = response.status();
        let took = super::report::millis(started.elapsed());
        if self.healthy.contains(&status.as_u16()) {
            Ok(format!("{status} in {took}"))
        } else {
            Err(format!("GET {} answered {status} in {took}", self.url))
        }
    }
}

/// `SELECT 1` on a connection from the service's own `deadpool-postgres` pool, returned
/// to it afterwards: no connection of its own, so a check never adds one to the server,
/// and a broken pooled connection is replaced by the pool (TLS as the pool was built with).
/// The message says how long it took and how the pool stands.
///
/// ```no_run,standalone_crate
/// #[teei_obs::health_check(kind = "db", name = "database")]
/// async fn database(pool: &deadpool_postgres::Pool) -> Result<String, String> {
///     teei_obs::health::postgres_pool(pool).await
/// }
/// ```
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub async fn postgres_pool(pool: &deadpool_postgres::Pool) -> Result<String, String> {
    let started = std::time::Instant::now();
    let client = pool
        .get()
        .await
        .map_err(|e| format!("no connection from the pool: {e}"))?;
    select_1(&client).await?;
    drop(client);
    let status = pool.status();
    Ok(format!(
        "Database connection OK: SELECT 1 in {} ({} of {} pooled connections open)",
        super::report::millis(started.elapsed()),
        status.size,
        status.max_size
    ))
}

/// `SELECT 1` on the service's own `tokio_postgres::Client`; a closed client is unhealthy
/// at once (reconnecting is the service's business, or its pool's).
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub async fn postgres_client(client: &tokio_postgres::Client) -> Result<String, String> {
    if client.is_closed() {
        return Err("the PostgreSQL connection is closed".to_owned());
    }
    let started = std::time::Instant::now();
    select_1(client).await?;
    Ok(format!(
        "Database connection OK: SELECT 1 in {}",
        super::report::millis(started.elapsed())
    ))
}

#[cfg(feature = "postgres")]
async fn select_1(client: &tokio_postgres::Client) -> Result<(), String> {
    client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| format!("SELECT 1 failed: {e}"))
}

/// Connects to PostgreSQL with `connection` (a `tokio_postgres` connection string, no TLS)
/// and runs `SELECT 1`: a new connection every run. For a service with a pool or a client
/// of its own, [`postgres_pool`] and [`postgres_client`] check that instead.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub async fn postgres_select_1(connection: &str) -> Result<String, String> {
    let started = std::time::Instant::now();
    let (client, driver) = tokio_postgres::connect(connection, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let driver = tokio::spawn(driver);
    let result = select_1(&client).await;
    drop(client);
    driver.abort();
    result.map(|()| {
        format!(
            "Database connection OK: SELECT 1 in {} on a new connection",
            super::report::millis(started.elapsed())
        )
    })
}

/// Without the `postgres` feature: always an error saying so.
#[cfg(not(feature = "postgres"))]
pub async fn postgres_select_1(_connection: &str) -> Result<String, String> {
    Err("teei-obs was built without its `postgres` feature".to_owned())
}

/// The service's own NATS client: connected (not reconnecting), and a message sent to a
/// fresh inbox comes back through the server — a round trip, where `Client::flush` only
/// says the bytes left. Bounded by the check's timeout. The message names the server and
/// the round trip's time.
///
/// ```no_run,standalone_crate
/// #[teei_obs::health_check(kind = "nats", name = "event-bus")]
/// async fn event_bus(client: &async_nats::Client) -> Result<String, String> {
///     teei_obs::health::nats(client).await
/// }
/// ```
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub async fn nats(client: &async_nats::Client) -> Result<String, String> {
    use futures_util::StreamExt as _;
    match client.connection_state() {
        async_nats::connection::State::Connected => {}
        async_nats::connection::State::Pending => {
            return Err("NATS not connected: the client is (re)connecting".to_owned());
        }
        async_nats::connection::State::Disconnected => {
            return Err("NATS disconnected".to_owned());
        }
    }
    let started = std::time::Instant::now();
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| format!("NATS subscribe failed: {e}"))?;
    client
        .publish(inbox, Default::default())
        .await
        .map_err(|e| format!("NATS publish failed: {e}"))?;
    client
        .flush()
        .await
        .map_err(|e| format!("NATS flush failed: {e}"))?;
    let back = echo.next().await;
    let _ = echo.unsubscribe().await;
    back.ok_or_else(|| "NATS closed the round trip".to_owned())?;
    let info = client.server_info();
    Ok(format!(
        "NATS connected to {}:{}: round trip in {}",
        info.host,
        info.port,
        super::report::millis(started.elapsed())
    ))
}
