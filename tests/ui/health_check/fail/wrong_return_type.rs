use teei_obs::health_check;

#[health_check(kind = "db")]
async fn returns_bool() -> bool {
    true
}

#[health_check(kind = "db")]
async fn returns_nothing() {}

struct NotDisplay;

// `E` must be `Display`: the error names the trait.
#[health_check(kind = "db")]
async fn error_not_display() -> Result<(), NotDisplay> {
    Ok(())
}

fn main() {}
