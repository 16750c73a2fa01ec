use teei_obs::health_check;

#[health_check(kind = "db")]
fn database() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = database();
}
