use teei_obs::traced;

#[traced(lvl = "info")]
fn a() {}

#[traced(instrument, err)]
fn b() -> Result<(), String> {
    Ok(())
}

fn main() {
    a();
    let _ = b();
}
