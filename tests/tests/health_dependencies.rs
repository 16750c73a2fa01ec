//! Ready-made checks against real servers on loopback: PostgreSQL and NATS stopped make
//! readiness 503 within interval + timeout, and started again bring it back.

use std::time::{Duration, Instant};

use teei_obs::health::Damping;
use teei_obs::health_check;
use teei_obs_tests::otlp::free_port;
use teei_obs_tests::servers::{Nats, Postgres};
use teei_obs_tests::{request, serve};

struct Database(String);
struct Bus(String);

const INTERVAL: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_millis(500);

#[health_check(kind = "db", name = "postgres", timeout = "500ms", interval = "500ms")]
async fn postgres(db: &Database) -> Result<(), String> {
    teei_obs::health::postgres_select_1(&db.0).await
}

#[health_check(kind = "nats", name = "nats", timeout = "500ms", interval = "500ms")]
async fn nats(bus: &Bus) -> Result<(), String> {
    teei_obs::health::nats_ping(&bus.0).await
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
            .provide(Database(pg.url()))
            .provide(Bus(bus.addr.to_string()))
            .health_damping(Damping {
                failures: 1,
                successes: 1,
            }),
    )
    .unwrap();
    let addr = serve(obs.router()).await;
    readiness_becomes(addr, 200, Duration::from_secs(10)).await;

    // Both bounds: a run can start just before the stop, the next one fails within its
    // timeout; 200 ms allowance for the probe loop and the server's own shutdown.
    let bound = INTERVAL + TIMEOUT + Duration::from_millis(200);
    pg.stop();
    let took = readiness_becomes(addr, 503, Duration::from_secs(10)).await;
    println!("PostgreSQL stopped: readiness 503 after {took:?}");
    assert!(took <= bound, "{took:?}");
    pg.resume();
    readiness_becomes(addr, 200, Duration::from_secs(10)).await;

    bus.stop();
    let took = readiness_becomes(addr, 503, Duration::from_secs(10)).await;
    println!("NATS stopped: readiness 503 after {took:?}");
    assert!(took <= bound, "{took:?}");
    bus.resume();
    readiness_becomes(addr, 200, Duration::from_secs(10)).await;
}
