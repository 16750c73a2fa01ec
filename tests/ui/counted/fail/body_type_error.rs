use teei_obs::counted;

#[counted]
fn total(prices: &[u32]) -> u32 {
    let sum: u32 = prices.iter().sum();
    sum + "shipping"
}

#[counted]
async fn fetch_total() -> Result<u32, String> {
    let value: u32 = "7".parse()?;
    Ok(value)
}

fn main() {
    let _ = total(&[1]);
    let _ = fetch_total();
}
