use teei_obs::counted;

// Three problems in one item: all three are reported by one build.
#[counted(name = "bad name", buckets = [1.0, 0.5])]
const fn everything_wrong() {}

fn main() {}
