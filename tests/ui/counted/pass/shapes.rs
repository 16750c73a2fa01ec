// Every supported shape compiles without a warning, in a crate with strict lints.
#![deny(warnings, unsafe_code, clippy::all)]

use std::fmt::Debug;
use teei_obs::counted;

#[counted]
pub fn free() {}

#[counted(duration, concurrent, name = "orders::place", buckets = [0.001, 0.5, 2])]
pub async fn async_result(ok: bool) -> Result<u8, String> {
    if !ok {
        return Err("no".to_owned());
    }
    let parsed: u8 = "1".parse().map_err(|_| "parse".to_owned())?;
    Ok(parsed)
}

pub struct Cart(Vec<u32>);

impl Cart {
    #[counted(name = "Cart::new")]
    pub fn new() -> Self {
        Cart(Vec::new())
    }
    #[counted(name = "Cart::len")]
    pub fn len(&self) -> usize {
        self.0.len()
    }
    #[counted(name = "Cart::push")]
    pub fn push(&mut self, item: u32) {
        self.0.push(item);
    }
    #[counted(name = "Cart::into_inner")]
    pub fn into_inner(self) -> Vec<u32> {
        self.0
    }
    #[counted(name = "Cart::first")]
    pub fn first(&self) -> Option<&u32> {
        self.0.first()
    }
}

impl Default for Cart {
    fn default() -> Self {
        Self::new()
    }
}

pub trait Priced {
    fn price(&self) -> u32;
    #[counted(name = "Priced::doubled")]
    fn doubled(&self) -> u32 {
        self.price() * 2
    }
}

impl Priced for Cart {
    #[counted(name = "Cart::price")]
    fn price(&self) -> u32 {
        self.0.iter().sum()
    }
}

#[counted]
pub fn generic<T: Debug + Clone, const N: usize>(items: [T; N]) -> Vec<T>
where
    T: PartialEq,
{
    items.to_vec()
}

#[counted]
pub fn opaque(limit: u32) -> impl Iterator<Item = u32> + Clone {
    0..limit
}

#[counted]
pub fn borrowed<'a>(a: &'a str, _b: &str) -> &'a str {
    a
}

#[allow(unsafe_code)]
#[counted]
pub unsafe fn raw_read(pointer: *const u8) -> u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *pointer }
}

#[counted]
pub fn r#type() -> &'static str {
    "raw identifier"
}

#[counted]
pub fn with_inner_attribute() -> u32 {
    #![allow(unused_variables)]
    let unused = 2;
    1
}

#[counted]
pub fn never_returns_normally() -> ! {
    panic!("by design")
}

#[allow(unsafe_code)]
fn main() {
    free();
    let _ = async_result(true);
    let mut cart = Cart::default();
    cart.push(3);
    assert_eq!(cart.len(), 1);
    assert_eq!(cart.first(), Some(&3));
    assert_eq!(cart.price(), 3);
    assert_eq!(cart.doubled(), 6);
    assert_eq!(cart.into_inner(), vec![3]);
    assert_eq!(generic([1, 2]), vec![1, 2]);
    assert_eq!(opaque(3).count(), 3);
    assert_eq!(borrowed("a", "b"), "a");
    let byte = 7u8;
    // SAFETY: points at a live local.
    assert_eq!(unsafe { raw_read(&byte) }, 7);
    assert_eq!(r#type(), "raw identifier");
    assert_eq!(with_inner_attribute(), 1);
    let names: Vec<_> = teei_obs::registry::functions().map(|f| f.name()).collect();
    assert!(names.contains(&"type"), "{names:?}");
    // The panic is expected: keep its message out of the test output.
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(|| never_returns_normally()).is_err());
}
