use teei_obs::counted;

#[counted(buckets = [])]
fn empty() {}

#[counted(buckets = [0.1, 0.05, 1.0])]
fn descending() {}

#[counted(buckets = [0.1, 0.1])]
fn repeated() {}

#[counted(buckets = [-0.5, 1.0])]
fn negative() {}

#[counted(buckets = [0, 1])]
fn zero() {}

#[counted(buckets = [0.1, 1e999])]
fn infinite() {}

#[counted(buckets = [0.1, f64::NAN])]
fn not_a_literal() {}

#[counted(buckets = ["0.1"])]
fn a_string() {}

#[counted(buckets = 0.1)]
fn not_a_list() {}

fn main() {}
