//! A small service crate with annotated functions; its tests (in `tests/`) use
//! `teei_obs::testing` the way a user's would, from outside teei-obs.

use teei_obs::{counted, traced};

/// Reserves `quantity` items of `sku`; fails when nothing is asked for.
#[counted]
#[traced(kind = "server", err, fields(sku = sku, quantity = quantity))]
pub fn reserve(sku: &str, quantity: u32) -> Result<u32, String> {
    tracing::info!(sku, quantity, "reserving");
    if quantity == 0 {
        return Err(format!("nothing to reserve for {sku}"));
    }
    Ok(price(quantity))
}

/// The price of `quantity` items.
#[traced]
pub fn price(quantity: u32) -> u32 {
    quantity * 250
}

/// Settles an order; a declined card is reported by hand, with a tag.
pub fn settle(order: u32) {
    let declined = std::io::Error::other(format!("card declined for order {order}"));
    teei_obs::error_tracking::Capture::error(&declined)
        .tag("order", order.to_string())
        .send();
}

/// Fails loudly: an ERROR line, so a Sentry event.
pub fn report_outage(dependency: &str) {
    tracing::error!(dependency, "dependency down");
}
