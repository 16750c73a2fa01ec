use teei_obs::traced;

#[traced]
struct Order;

#[traced]
const fn limit() -> u32 {
    1
}

#[traced]
extern "C" fn callback() {}

fn main() {
    let _ = Order;
    let _ = limit();
    callback();
}
