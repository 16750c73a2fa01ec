use teei_obs::counted;

#[counted(duration, concurrent, duration)]
fn place_order() {}

#[counted(name = "a", name = "b")]
fn cancel_order() {}

#[counted(buckets = [0.1], buckets = [0.2])]
fn refund_order() {}

fn main() {
    place_order();
    cancel_order();
    refund_order();
}
