// Objectives reach the registry as ratios, the latency threshold as one of the buckets.
use teei_obs::counted;

#[counted(duration, objective(success = 99.9, latency = 0.25, within = 95))]
fn checkout() {}

#[counted(buckets = [0.001, 0.004], objective(latency = 0.004))]
fn lookup() {}

#[counted(objective(success = 99))]
fn publish() {}

fn main() {
    checkout();
    lookup();
    publish();
    let objective = |name: &str| {
        teei_obs::registry::functions()
            .find(|f| f.name() == name)
            .and_then(|f| f.metrics())
            .and_then(|m| m.objective())
            .copied()
    };
    let checkout = objective("checkout").unwrap();
    assert_eq!(checkout.success(), Some(0.999));
    assert_eq!(checkout.latency(), Some((0.25, 0.95)));
    // `within` defaults to 99 %.
    assert_eq!(objective("lookup").unwrap().latency(), Some((0.004, 0.99)));
    assert_eq!(objective("publish").unwrap().latency(), None);
}
