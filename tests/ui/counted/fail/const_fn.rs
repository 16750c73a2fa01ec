use teei_obs::counted;

#[counted]
const fn limit() -> u32 {
    10
}

fn main() {
    let _ = limit();
}
