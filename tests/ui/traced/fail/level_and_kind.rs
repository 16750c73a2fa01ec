use teei_obs::traced;

#[traced(level = "loud")]
fn a() {}

#[traced(kind = "backend")]
fn b() {}

#[traced(level = info)]
fn c() {}

#[traced(err(Pretty))]
fn d() -> Result<(), String> {
    Ok(())
}

fn main() {
    a();
    b();
    c();
    let _ = d();
}
