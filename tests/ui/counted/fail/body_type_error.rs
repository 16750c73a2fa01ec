use teei_obs::counted;

// A type error inside the body points at the user's line, not at the attribute.
#[counted]
fn total(prices: &[u32]) -> u32 {
    let count: u32 = prices.len();
    count
}

#[counted]
async fn fetch_total() -> Result<u32, String> {
    let value: u32 = "7";
    Ok(value)
}

fn main() {
    let _ = total(&[1]);
    let _ = fetch_total();
}
