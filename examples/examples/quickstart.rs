//! cargo run -p teei-obs-examples --example quickstart [-- --seconds N] [-- --port P]
//!
//! A small order service: annotated functions, `init`, `/metrics`, the four `/health`
//! endpoints and a traced `/orders` route on 127.0.0.1. It places orders in a loop so the counters move; open
//! http://127.0.0.1:3000/metrics, or `curl -H 'x-correlation-id: demo-1'
//! http://127.0.0.1:3000/orders/3` to see a correlation ID come back. Spans stay in memory
//! (no collector needed); set `OTEL_EXPORTER_OTLP_ENDPOINT` to send them to a collector.
//! Stops on Ctrl-C or SIGTERM (readiness turns 503 for a short drain first), or after
//! `--seconds N`, then prints the last spans.

use std::time::Duration;

use std::sync::Arc;

use teei_obs::health::CheckOutcome;
use teei_obs::{counted, health_check, traced};
use tokio::sync::Mutex;

#[derive(Debug)]
enum OrderError {
    OutOfStock,
}

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of stock")
    }
}

struct Inventory {
    stock: u32,
}

impl Inventory {
    #[counted(name = "Inventory::reserve", concurrent)]
    #[traced(kind = "client", err, fields(quantity))]
    async fn reserve(&mut self, quantity: u32) -> Result<u32, OrderError> {
        tokio::time::sleep(Duration::from_millis(u64::from(quantity))).await;
        if quantity > self.stock {
            return Err(OrderError::OutOfStock);
        }
        self.stock -= quantity;
        Ok(self.stock)
    }

    #[counted(name = "Inventory::restock")]
    fn restock(&mut self) {
        self.stock += 20;
    }
}

#[counted(duration, buckets = [0.001, 0.005, 0.01, 0.05, 0.1])]
#[traced(err, fields(quantity))]
async fn place_order(inventory: &mut Inventory, quantity: u32) -> Result<u32, OrderError> {
    let left = inventory.reserve(quantity).await?;
    if left < 5 {
        inventory.restock();
    }
    Ok(left)
}

/// The number after `name` on the command line, if given.
/// The inventory, shared by the order loop, the route and the health check.
#[derive(Clone)]
struct Shop(Arc<Mutex<Inventory>>);

#[health_check(kind = "custom", name = "inventory", interval = "2s", timeout = "1s")]
async fn inventory(shop: &Shop) -> CheckOutcome {
    let stock = shop.0.lock().await.stock;
    if stock < 5 {
        CheckOutcome::Degraded(format!("low stock: {stock}"))
    } else {
        CheckOutcome::Healthy
    }
}

fn option(name: &str) -> Result<Option<u16>, String> {
    let mut args = std::env::args().skip_while(|arg| arg != name).skip(1);
    args.next()
        .map(|value| {
            value
                .parse()
                .map_err(|_| format!("{name} takes a number from 0 to 65535, not {value:?}"))
        })
        .transpose()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = option("--port")?.unwrap_or(3000);
    let seconds = option("--seconds")?;
    let inventory = Arc::new(Mutex::new(Inventory { stock: 20 }));
    let obs = teei_obs::init(
        // The environment (OTEL_*, SENTRY_DSN, …) with this crate's version as the
        // service version.
        teei_obs::config!()?
            .service_name("quickstart")
            .provide(Shop(inventory.clone()))
            .drain_delay(Duration::from_secs(1)),
    )?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "quickstart: {} annotated functions; metrics at http://{}/metrics",
        obs.registry_entry_count(),
        listener.local_addr()?
    );

    let shop = inventory.clone();
    // Each failed order is one ERROR line (from `reserve`, where the error appeared), not
    // one per `#[traced(err)]` level it passes.
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failures = failed.clone();
    let orders_loop = tokio::spawn(async move {
        for i in 0u32.. {
            let quantity = 1 + (i * 7) % 9;
            if let Err(error) = place_order(&mut *shop.lock().await, quantity).await {
                let n = failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n.is_multiple_of(10) {
                    println!("order {i} failed: {error}");
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let signal = obs.shutdown_signal();
    let stop = async move {
        match seconds {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await,
            None => signal.await,
        }
    };
    let orders = axum::Router::new()
        .route(
            "/orders/{quantity}",
            axum::routing::get(
                move |axum::extract::Path(quantity): axum::extract::Path<u32>| {
                    let inventory = inventory.clone();
                    async move {
                        let correlation = teei_obs::trace::correlation_id().unwrap_or_default();
                        match place_order(&mut *inventory.lock().await, quantity).await {
                            Ok(left) => format!(
                                "ordered {quantity}, {left} left (correlation {correlation})\n"
                            ),
                            Err(error) => format!("{error} (correlation {correlation})\n"),
                        }
                    }
                },
            ),
        )
        .layer(obs.request_layer());
    axum::serve(listener, obs.router().merge(orders))
        .with_graceful_shutdown(stop)
        .await?;
    // The loop stops before its count is read: no failure is logged after it.
    orders_loop.abort();
    let _ = orders_loop.await;
    let spans = obs.recent_spans();
    println!(
        "quickstart: stopped; {} orders failed; {} spans in memory, the last:",
        failed.load(std::sync::atomic::Ordering::Relaxed),
        spans.len()
    );
    for span in spans.iter().rev().take(3) {
        println!(
            "  {} trace={} parent={} {:?}",
            span.name,
            span.span_context.trace_id(),
            span.parent_span_id,
            span.status
        );
    }
    obs.shutdown()?;
    Ok(())
}
