//! cargo run -p teei-obs-examples --example quickstart [-- --seconds N] [-- --port P]
//!
//! A small order service: annotated functions, `init`, and `/metrics` on 127.0.0.1.
//! It calls its own functions in a loop so the counters move; open
//! http://127.0.0.1:3000/metrics while it runs. Stops on Ctrl-C, or after `--seconds N`.

use std::time::Duration;

use teei_obs::counted;

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
async fn place_order(inventory: &mut Inventory, quantity: u32) -> Result<u32, OrderError> {
    let left = inventory.reserve(quantity).await?;
    if left < 5 {
        inventory.restock();
    }
    Ok(left)
}

/// The number after `name` on the command line, if given.
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
    let obs = teei_obs::init(teei_obs::Config::from_env()?.service_name("quickstart"))?;
    let port = option("--port")?.unwrap_or(3000);
    let seconds = option("--seconds")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "quickstart: {} annotated functions; metrics at http://{}/metrics",
        obs.function_count(),
        listener.local_addr()?
    );

    tokio::spawn(async {
        let mut inventory = Inventory { stock: 20 };
        for i in 0u32.. {
            let quantity = 1 + (i * 7) % 9;
            if let Err(error) = place_order(&mut inventory, quantity).await
                && i % 10 == 0
            {
                println!("order {i} failed: {error}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let stop = async move {
        match seconds {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(u64::from(seconds))).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    axum::serve(listener, obs.router())
        .with_graceful_shutdown(stop)
        .await?;
    println!("quickstart: stopped");
    Ok(())
}
