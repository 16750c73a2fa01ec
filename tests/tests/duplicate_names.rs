//! Two functions exporting the same series, and two health checks of one name, make `init`
//! fail, naming both definitions of each.

use teei_obs::{counted, health_check};

const FIRST_CHECK: u32 = line!() + 2;
#[health_check(kind = "db", name = "database")]
async fn primary() -> Result<(), String> {
    Ok(())
}

const SECOND_CHECK: u32 = line!() + 2;
#[health_check(kind = "db", name = "database")]
async fn replica() -> Result<(), String> {
    Ok(())
}

const FIRST_LINE: u32 = line!() + 2;
#[counted(name = "charge")]
fn charge_card() {}

const SECOND_LINE: u32 = line!() + 2;
#[counted]
fn charge() {}

#[test]
fn init_fails_with_both_source_locations_and_does_not_panic() {
    let error = teei_obs::init(teei_obs::Config::new("duplicates")).unwrap_err();
    let message = error.to_string();
    let file = file!();
    assert!(
        message.contains(&format!("{file}:{FIRST_LINE}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("{file}:{SECOND_LINE}")),
        "{message}"
    );
    assert!(message.contains(r#"function="charge""#), "{message}");
    assert!(
        message.contains("name = "),
        "the message suggests the fix: {message}"
    );
    assert!(
        message.contains(r#"two health checks are named "database""#),
        "{message}"
    );
    for line in [FIRST_CHECK, SECOND_CHECK] {
        assert!(message.contains(&format!("{file}:{line}")), "{message}");
    }
    // The functions themselves still work.
    charge_card();
    charge();
}
