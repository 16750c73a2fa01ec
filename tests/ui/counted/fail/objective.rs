use teei_obs::counted;

// The latency threshold must be a bucket bound, or the share of calls within it cannot
// be counted.
#[counted(duration, objective(latency = 0.3))]
fn not_a_bound() {}

#[counted(buckets = [0.01, 0.1], objective(latency = 0.25, within = 99))]
fn not_one_of_these_bounds() {}

// No histogram, no latency objective.
#[counted(objective(latency = 0.25))]
fn no_histogram() {}

#[counted(objective(success = 100))]
fn a_certainty() {}

#[counted(objective(success = 0.0))]
fn nothing() {}

#[counted(duration, objective(within = 99))]
fn within_what() {}

#[counted(objective(succes = 99.9))]
fn misspelt() {}

#[counted(objective(success = "99.9"))]
fn a_string() {}

#[counted(objective())]
fn empty() {}

#[counted(objective(success = 99, success = 98))]
fn twice() {}

#[counted(objective = 99.9)]
fn not_a_list() {}

fn main() {}
