use teei_obs::traced;

// `err` needs a `Result`; the error points at `err`.
#[traced(err)]
fn count() -> u32 {
    1
}

fn main() {
    count();
}
