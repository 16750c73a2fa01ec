//! Ready-made checks against real servers on loopback: PostgreSQL and NATS stopped make
//! readiness 503 within interval + timeout, and started again bring it back; the
//! PostgreSQL check runs on the service's pool and never adds a connection of its own.

use std::time::{Duration, Instant};

use teei_obs::health::Damping;
use teei_obs::health_check;
use teei_obs_tests::otlp::free_port;
use teei_obs_tests::servers::{Nats, Postgres};
use teei_obs_tests::{request, serve};

const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(200);
/// The pool's size, and the name its connections give the server.
const POOL_SIZE: usize = 2;
const APPLICATION: &str = "teei-health-pool";

#[health_check(kind = "db", name = "postgres", timeout = "200ms", interval = "200ms")]
async fn postgres(pool: &deadpool_postgres::Pool) -> Result<String, String> {
    teei_obs::health::postgres_pool(pool).await
}

fn pool(url: &str) -> deadpool_postgres::Pool {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.application_name(APPLICATION);
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .unwrap()
}

/// The server processes of the pool's connections, as the server lists them: the same
/// set before and after a number of runs means no run opened a connection.
async fn pool_backends(url: &str) -> Vec<i32> {
    let (admin, driver) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(driver);
    let rows = admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
            &[&APPLICATION],
        )
        .await
        .unwrap();
    driver.abort();
    rows.iter().map(|row| row.get(0)).collect()
}

/// Waits until the check named `name` has run `more` more times.
async fn runs(obs: &teei_obs::Obs, name: &str, more: u64) {
    let target = obs.health().runs(name).unwrap() + more;
    let deadline = Instant::now() + Duration::from_secs(20);
    while obs.health().runs(name).unwrap() < target {
        assert!(Instant::now() < deadline, "{name} stopped running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[health_check(kind = "nats", name = "nats", timeout = "200ms", interval = "200ms")]
async fn nats(client: &async_nats::Client) -> Result<String, String> {
    teei_obs::health::nats(client).await
}

async fn readiness_becomes(addr: std::net::SocketAddr, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let response = request(addr, "GET", "/health/readiness").await.unwrap();
        if response.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "readiness still {} after {:?}: {}",
            response.status,
            started.elapsed(),
            response.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_and_restarting_postgres_and_nats_flips_readiness() {
    let mut pg = Postgres::start(free_port());
    let mut bus = Nats::start(free_port());
    let obs = teei_obs::init(
        teei_obs::Config::new("profile")
            .install_subscriber(false)
            .provide(pool(&pg.url()))
            .health_details(true)
            .provide(
                // As services connect: in the background, reconnecting by itself.
                async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .connect(format!("nats://{}", bus.addr))
                    .await
                    .unwrap(),
            )
            .health_damping(Damping {
                failures: 1,
                successes: 1,
            }),
    )
    .unwrap();
    let addr = serve(obs.router()).await;
    readiness_becomes(addr, 200, Duration::from_secs(10)).await;

    // 20 runs on the pool: the same server processes before and after, at most the
    // pool's size of them — never a connection per run.
    let before = pool_backends(&pg.url()).await;
    runs(&obs, "postgres", 20).await;
    let after = pool_backends(&pg.url()).await;
    println!("20 runs: pooled connections {before:?} before, {after:?} after");
    assert!((1..=POOL_SIZE).contains(&after.len()), "{after:?}");
    assert_eq!(before, after, "a run opened a connection of its own");
    let health = request(addr, "GET", "/health").await.unwrap();
    assert!(
        health.body.contains("Database connection OK: SELECT 1 in "),
        "{}",
        health.body
    );

    // Both bounds: a run can start just before the stop, the next one fails within its
    // timeout; 200 ms allowance for the probe loop and the server's own shutdown.
    let bound = INTERVAL + TIMEOUT + Duration::from_millis(200);
    pg.stop();
    let took = readiness_becomes(addr, 503, Duration::from_secs(10)).await;
    println!("PostgreSQL stopped: readiness 503 after {took:?}");
    assert!(took <= bound, "{took:?}");
    let down = request(addr, "GET", "/health").await.unwrap();
    assert!(
        down.body.contains("no connection from the pool"),
        "{}",
        down.body
    );
    pg.resume();
    readiness_becomes(addr, 200, Duration::from_secs(10)).await;
    // The pool replaced the connections the restart broke, and holds to its size.
    let before = pool_backends(&pg.url()).await;
    runs(&obs, "postgres", 20).await;
    let after = pool_backends(&pg.url()).await;
    println!("20 runs after the restart: pooled connections {before:?}, then {after:?}");
    assert!((1..=POOL_SIZE).contains(&after.len()), "{after:?}");
    assert_eq!(before, after, "a run opened a connection of its own");

    bus.stop();
    let took = readiness_becomes(addr, 503, Duration::from_secs(10)).await;
    println!("NATS stopped: readiness 503 after {took:?}");
    assert!(took <= bound, "{took:?}");
    bus.resume();
    // The same client, reconnected by itself.
    readiness_becomes(addr, 200, Duration::from_secs(15)).await;
    let health = request(addr, "GET", "/health").await.unwrap();
    assert!(
        health.body.contains("NATS connected to "),
        "{}",
        health.body
    );
}
