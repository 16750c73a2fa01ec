use teei_obs::counted;

#[counted(durations)]
fn place_order() {}

#[counted(duration, level = "info")]
fn cancel_order() {}

fn main() {
    place_order();
    cancel_order();
}
