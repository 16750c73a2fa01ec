use teei_obs::health_check;

#[health_check(kind = "database")]
async fn typo() -> Result<(), String> {
    Ok(())
}

#[health_check(name = "no-kind")]
async fn missing_kind() -> Result<(), String> {
    Ok(())
}

fn main() {}
