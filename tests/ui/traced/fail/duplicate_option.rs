use teei_obs::traced;

#[traced(level = "info", level = "debug")]
fn a() {}

#[traced(err, err(Debug))]
fn b() -> Result<(), String> {
    Ok(())
}

#[traced(fields(x = 1), fields(y = 2))]
fn c() {}

fn main() {
    a();
    let _ = b();
    c();
}
