use teei_obs::health_check;

#[health_check(kind = "db", retries = 3)]
async fn unknown() -> Result<(), String> {
    Ok(())
}

#[health_check(kind = "db", name = "a", name = "b")]
async fn duplicated() -> Result<(), String> {
    Ok(())
}

#[health_check(kind = "db", probes(readiness, ready))]
async fn unknown_probe() -> Result<(), String> {
    Ok(())
}

#[health_check(kind = "db", critical = "yes")]
async fn critical_string() -> Result<(), String> {
    Ok(())
}

fn main() {}
