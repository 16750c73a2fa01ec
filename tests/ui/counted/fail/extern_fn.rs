use teei_obs::counted;

#[counted]
extern "C" fn callback(code: i32) -> i32 {
    code
}

fn main() {
    let _ = callback(1);
}
