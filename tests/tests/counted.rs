//! `#[counted]` on every function shape, and the exact outcome of every kind of exit.

use std::future::Future;
use std::time::Duration;

use teei_obs::counted;
use teei_obs::metrics::{FunctionMetrics, Outcome};

fn metrics(name: &str) -> &'static FunctionMetrics {
    teei_obs::registry::functions()
        .find(|entry| entry.name() == name && entry.module() == module_path!())
        .and_then(|entry| entry.metrics())
        .unwrap_or_else(|| panic!("{name} is not registered"))
}

fn counts(name: &str) -> [u64; 4] {
    Outcome::ALL.map(|outcome| metrics(name).calls(outcome))
}

#[derive(Debug, PartialEq)]
struct Invalid(u32);

// --- free functions, `?` and early return -----------------------------------------------

#[counted]
fn parse_digit(text: &str) -> Result<u32, Invalid> {
    if text.is_empty() {
        return Err(Invalid(0));
    }
    let digit = text.parse::<u32>().map_err(|_| Invalid(1))?;
    if digit > 9 {
        return Err(Invalid(digit));
    }
    Ok(digit)
}

#[counted]
fn sum_digits(text: &str) -> Result<u32, Invalid> {
    let mut sum = 0;
    for part in text.split(',') {
        sum += parse_digit(part)?;
    }
    Ok(sum)
}

#[test]
fn results_are_counted_by_variant_through_question_mark_and_early_return() {
    assert_eq!(sum_digits("1,2,3"), Ok(6));
    assert_eq!(sum_digits("1,x"), Err(Invalid(1)));
    assert_eq!(sum_digits("12"), Err(Invalid(12)));
    assert_eq!(sum_digits(""), Err(Invalid(0)));
    assert_eq!(counts("sum_digits"), [1, 3, 0, 0]);
    assert_eq!(counts("parse_digit"), [4, 3, 0, 0]);
}

type Outcomeish = std::io::Result<u8>;

#[counted]
fn through_an_alias(fail: bool) -> Outcomeish {
    if fail {
        Err(std::io::Error::other("no"))
    } else {
        Ok(1)
    }
}

#[counted]
fn plain_value(x: u8) -> Option<u8> {
    x.checked_add(250)
}

#[test]
fn a_result_alias_is_classified_and_other_types_are_ok() {
    through_an_alias(true).unwrap_err();
    through_an_alias(false).unwrap();
    assert_eq!(plain_value(10), None);
    assert_eq!(counts("through_an_alias"), [1, 1, 0, 0]);
    assert_eq!(counts("plain_value"), [1, 0, 0, 0]);
}

// --- panics -------------------------------------------------------------------------------

#[counted(concurrent, duration)]
fn explode(really: bool) -> u8 {
    if really {
        panic!("boom {}", 42);
    }
    1
}

#[test]
fn a_panic_is_counted_once_and_propagates_unchanged() {
    let payload = std::panic::catch_unwind(|| explode(true)).unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    assert_eq!(message, Some("boom 42"));
    assert_eq!(explode(false), 1);
    assert_eq!(counts("explode"), [1, 0, 1, 0]);
    assert_eq!(metrics("explode").concurrent(), Some(0));
    assert_eq!(metrics("explode").histogram().unwrap().count, 2);
}

// --- async: completion, error, panic, cancellation ---------------------------------------

#[counted(concurrent, duration)]
async fn fetch(delay_ms: u64, fail: bool) -> Result<u64, String> {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    if fail {
        return Err("unavailable".into());
    }
    Ok(delay_ms)
}

#[counted(concurrent)]
async fn explode_later() {
    tokio::task::yield_now().await;
    panic!("late boom");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_count_ok_error_panic_and_cancelled_and_the_gauge_returns_to_zero() {
    assert_eq!(fetch(1, false).await, Ok(1));
    assert!(fetch(1, true).await.is_err());
    // Dropped while sleeping: cancelled.
    let timed_out = tokio::time::timeout(Duration::from_millis(5), fetch(10_000, false)).await;
    assert!(timed_out.is_err());
    // Many concurrent calls, half of them cancelled by an abort.
    let tasks: Vec<_> = (0..20)
        .map(|i| tokio::spawn(fetch(if i % 2 == 0 { 1 } else { 10_000 }, false)))
        .collect();
    // Wait (bounded) until the ten short calls are done; the ten long ones are still in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while counts("fetch")[0] < 11 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(metrics("fetch").concurrent(), Some(10));
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    assert_eq!(counts("fetch"), [11, 1, 0, 11]);
    assert_eq!(metrics("fetch").concurrent(), Some(0));
    assert_eq!(metrics("fetch").histogram().unwrap().count, 23);

    let panicked = tokio::spawn(explode_later()).await.unwrap_err();
    assert!(panicked.is_panic());
    assert_eq!(counts("explode_later"), [0, 0, 1, 0]);
    assert_eq!(metrics("explode_later").concurrent(), Some(0));
}

#[counted]
async fn never_polled() {}

#[test]
fn a_future_dropped_before_its_first_poll_was_never_a_call() {
    drop(never_polled());
    assert_eq!(counts("never_polled"), [0, 0, 0, 0]);
}

// --- methods, trait impls, generics, impl Trait -------------------------------------------

#[derive(Debug, Default)]
struct Account {
    balance: i64,
}

impl Account {
    #[counted(name = "Account::balance")]
    fn balance(&self) -> i64 {
        self.balance
    }

    #[counted(name = "Account::deposit")]
    fn deposit(&mut self, amount: i64) -> Result<i64, String> {
        if amount <= 0 {
            return Err(format!("bad amount {amount}"));
        }
        self.balance += amount;
        Ok(self.balance)
    }

    #[counted(name = "Account::close")]
    fn close(self) -> i64 {
        self.balance
    }

    #[counted(name = "Account::refresh")]
    async fn refresh(&mut self) -> i64 {
        tokio::task::yield_now().await;
        self.balance
    }
}

trait Ledger {
    fn entries(&self) -> usize;
}

impl Ledger for Account {
    #[counted(name = "Account::entries")]
    fn entries(&self) -> usize {
        usize::try_from(self.balance).unwrap_or(0)
    }
}

#[counted]
fn largest<T>(items: &[T]) -> Option<T>
where
    T: PartialOrd + Copy + std::fmt::Debug,
{
    let mut best = *items.first()?;
    for item in items {
        if *item > best {
            best = *item;
        }
    }
    Some(best)
}

#[counted]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[counted]
fn later(value: u8) -> impl Future<Output = u8> {
    async move { value }
}

#[counted]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

#[tokio::test]
async fn methods_trait_impls_generics_and_impl_trait_keep_working_and_count() {
    let mut account = Account::default();
    assert_eq!(account.deposit(5), Ok(5));
    assert!(account.deposit(-1).is_err());
    assert_eq!(account.balance(), 5);
    assert_eq!(account.entries(), 5);
    assert_eq!(account.refresh().await, 5);
    assert_eq!(account.close(), 5);
    assert_eq!(counts("Account::deposit"), [1, 1, 0, 0]);
    for name in [
        "Account::balance",
        "Account::entries",
        "Account::refresh",
        "Account::close",
    ] {
        assert_eq!(counts(name), [1, 0, 0, 0], "{name}");
    }

    assert_eq!(largest(&[3, 9, 2]), Some(9));
    assert_eq!(largest(&[1.5, 0.5]), Some(1.5));
    assert_eq!(largest::<u8>(&[]), None);
    // One series for all instantiations of a generic function.
    assert_eq!(counts("largest"), [3, 0, 0, 0]);

    assert_eq!(evens(7).collect::<Vec<_>>(), [0, 2, 4, 6]);
    assert_eq!(later(4).await, 4);
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(counts("evens"), [1, 0, 0, 0]);
    assert_eq!(counts("later"), [1, 0, 0, 0]);
    assert_eq!(counts("first_word"), [1, 0, 0, 0]);
}

// --- the duration histogram --------------------------------------------------------------

#[counted(buckets = [0.001, 0.02, 5])]
fn sleepy(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn durations_land_in_the_declared_buckets() {
    sleepy(0);
    sleepy(5);
    sleepy(30);
    let histogram = metrics("sleepy")
        .histogram()
        .expect("buckets imply duration");
    assert_eq!(
        histogram.buckets,
        vec![(0.001, 1), (0.02, 2), (5.0, 3)],
        "cumulative counts per bound"
    );
    assert_eq!(histogram.count, 3);
    assert!(
        histogram.sum >= 0.035 && histogram.sum < 1.0,
        "{}",
        histogram.sum
    );
}

// --- many threads -------------------------------------------------------------------------

#[counted]
fn hot(x: u64) -> u64 {
    x + 1
}

#[test]
fn counts_from_many_threads_are_exact() {
    const THREADS: u64 = 24; // more than the exclusive rows, so the shared row is used too
    const CALLS: u64 = 20_000;
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for i in 0..CALLS {
                    std::hint::black_box(hot(i));
                }
            });
        }
    });
    assert_eq!(counts("hot"), [THREADS * CALLS, 0, 0, 0]);
}

// --- diverging functions and the default buckets ------------------------------------------

#[counted]
fn abort_order() -> ! {
    panic!("order aborted")
}

#[test]
fn a_function_that_never_returns_counts_its_panic() {
    assert!(std::panic::catch_unwind(|| abort_order()).is_err());
    assert_eq!(counts("abort_order"), [0, 0, 1, 0]);
}

#[counted(duration)]
fn default_timed() {}

#[test]
fn duration_without_buckets_uses_the_documented_defaults() {
    default_timed();
    let histogram = metrics("default_timed").histogram().unwrap();
    let bounds: Vec<f64> = histogram.buckets.iter().map(|(bound, _)| *bound).collect();
    assert_eq!(bounds, teei_obs::metrics::DEFAULT_BUCKETS);
    assert_eq!(histogram.count, 1);
    assert_eq!(
        histogram.buckets[0].1, 1,
        "an empty function takes under 5 ms"
    );
}
