use teei_obs::counted;

#[counted(name = "")]
fn empty() {}

#[counted(name = "place order")]
fn spaced() {}

#[counted(name = "9lives")]
fn digit_first() {}

#[counted(name = "orders::")]
fn dangling_path() {}

#[counted(name = 42)]
fn not_a_string() {}

fn main() {
    empty();
    spaced();
    digit_first();
    dangling_path();
    not_a_string();
}
