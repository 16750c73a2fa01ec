//! Two functions exporting the same series make `init` fail, naming both definitions.

use teei_obs::counted;

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
    // The functions themselves still work.
    charge_card();
    charge();
}
