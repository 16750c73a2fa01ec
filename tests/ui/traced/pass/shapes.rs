// Every supported shape compiles without a warning, in a crate with strict lints.
#![deny(warnings, unsafe_code)]

use teei_obs::{counted, traced};

#[derive(Debug)]
pub struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failure")
    }
}

#[traced]
pub fn free() {}

#[traced(name = "checkout", level = "warn", kind = "server", err, ret, fields(order.id = id, note = tracing::field::Empty))]
pub async fn async_result(id: u64) -> Result<u64, Failure> {
    if id == 0 {
        return Err(Failure);
    }
    let parsed: u64 = "1".parse().map_err(|_| Failure)?;
    Ok(parsed + id)
}

pub struct Cart(Vec<u32>);

impl Cart {
    #[traced(skip(self))]
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }
    #[traced(skip_all, err(Debug))]
    pub fn push(&mut self, item: u32) -> Result<(), Failure> {
        self.0.push(item);
        Ok(())
    }
    #[traced(ret(Display))]
    pub fn into_len(self) -> usize {
        self.0.len()
    }
}

pub trait Priced {
    #[traced(kind = "client")]
    fn price(&self) -> u32 {
        1
    }
}

impl Priced for Cart {}

#[traced]
#[counted(duration)]
pub fn both_traced_first<T: Clone>(item: T) -> T {
    item.clone()
}

#[counted]
#[traced]
pub async fn both_counted_first() -> impl std::fmt::Debug {
    42
}

#[traced]
pub fn diverges() -> ! {
    panic!("by design")
}

fn main() {
    free();
    let _ = async_result(1);
    let mut cart = Cart(Vec::new());
    cart.push(1).unwrap();
    assert_eq!(cart.total(), 1);
    assert_eq!(cart.price(), 1);
    assert_eq!(cart.into_len(), 1);
    assert_eq!(both_traced_first(3), 3);
    let _ = both_counted_first();
    // The panic is expected: keep its message out of the test output.
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(|| diverges()).is_err());
}
