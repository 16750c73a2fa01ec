use teei_obs::health_check;

#[health_check(kind = "db", timeout = "2 seconds")]
async fn words() -> Result<(), String> {
    Ok(())
}

#[health_check(kind = "db", interval = "0s")]
async fn zero() -> Result<(), String> {
    Ok(())
}

#[health_check(kind = "db", timeout = 2)]
async fn not_a_string() -> Result<(), String> {
    Ok(())
}

#[health_check(kind = "db", timeout = "30s", interval = "10s")]
async fn timeout_beyond_interval() -> Result<(), String> {
    Ok(())
}

fn main() {}
