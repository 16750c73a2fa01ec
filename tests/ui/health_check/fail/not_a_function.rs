use teei_obs::health_check;

#[health_check(kind = "db")]
struct Database;

struct Pool;

impl Pool {
    #[health_check(kind = "db")]
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }

    #[health_check(kind = "db")]
    async fn exclusive(pool: &mut Pool) -> Result<(), String> {
        let _ = pool;
        Ok(())
    }
}

fn main() {
    let _ = Database;
}
