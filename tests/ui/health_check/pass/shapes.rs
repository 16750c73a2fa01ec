// Checks with state by reference and by value, every option, and a rich outcome.
#![deny(warnings)]

use teei_obs::health::CheckOutcome;
use teei_obs::health_check;

pub struct Pool;

#[derive(Clone)]
pub struct Client;

#[health_check(kind = "db", name = "postgres", timeout = "1500ms", interval = "1m30s", critical = false, probes(readiness, startup, liveness))]
async fn database(pool: &Pool, client: Client) -> Result<(), std::io::Error> {
    let _ = (pool, client);
    Ok(())
}

#[health_check(kind = "custom")]
async fn rich() -> CheckOutcome {
    CheckOutcome::Degraded("slow".into())
}

// Not called anywhere: registered checks are in use, so no dead-code warning.
#[health_check(kind = "cache")]
async fn registered_only() -> Result<(), String> {
    Ok(())
}

// A parameter named like the function does not shadow it in the registration.
#[health_check(kind = "disk")]
async fn pool(pool: &Pool) -> Result<(), String> {
    let _ = pool;
    Ok(())
}

fn main() {
    let obs = teei_obs::init(
        teei_obs::Config::new("ui").install_subscriber(false).provide(Pool).provide(Client),
    )
    .unwrap();
    let names: Vec<_> = teei_obs::health::checks().map(|c| c.name()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let postgres = teei_obs::health::checks().find(|c| c.name() == "postgres").unwrap();
    assert_eq!(postgres.timeout(), std::time::Duration::from_millis(1500));
    assert_eq!(postgres.interval(), std::time::Duration::from_secs(90));
    assert!(!postgres.critical());
    let _ = (database, rich, obs);
}
