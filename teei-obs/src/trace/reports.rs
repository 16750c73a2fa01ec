//! One error, one report: what `#[traced(err)]` functions reported, kept under the span of
//! their caller until that span decides or closes.
//!
//! An error returned through nested `#[traced(err)]` functions marks every span it passes
//! with status error, but is logged (and sent to Sentry) once: where it first appeared.
//! When a traced function returns an error, it looks at what its own instrumented callees
//! reported during its call (kept under its span ID): if its error is that error — the
//! same text, or a text that contains it, as a wrapping error's Display or one of its
//! `source()`s does — it does not report it again, and passes the mark on to its own
//! caller. A function that recovered from a callee's error and then fails with another
//! is reported. A span whose function does not decide (a plain span, a `#[traced]` one
//! without `err`) hands its callees' reports, as it closes, to the span it was opened in.
//! [`Config::report_errors_at_every_level`](crate::Config::report_errors_at_every_level)
//! brings back one report per level.
//!
//! The table is bounded (beyond [`MAX_SPANS`] pending spans an error is simply reported
//! again) and costs a relaxed atomic load per closing span while it is empty.

use std::collections::HashMap;
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

/// Spans with pending reports, at most.
pub const MAX_SPANS: usize = 4096;
/// Messages kept per span.
const MAX_MESSAGES: usize = 8;

static PENDING: AtomicUsize = AtomicUsize::new(0);
static EVERY_LEVEL: AtomicBool = AtomicBool::new(false);
static TABLE: LazyLock<Mutex<HashMap<u64, Vec<String>>>> = LazyLock::new(Mutex::default);

fn table() -> std::sync::MutexGuard<'static, HashMap<u64, Vec<String>>> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reports at every level (the behaviour before one report per error), process-wide.
pub(crate) fn report_at_every_level(on: bool) {
    EVERY_LEVEL.store(on, Ordering::Relaxed);
}

/// The texts of `error`'s `source()` chain, outermost first (the error itself excluded).
fn sources<'a>(error: Option<&'a (dyn Error + 'static)>) -> impl Iterator<Item = String> + 'a {
    let next = |e: &&'a (dyn Error + 'static)| (*e).source();
    std::iter::successors(error.and_then(|e| e.source()), next).map(|e| e.to_string())
}

/// `error`'s causes as one text, `cause: its cause`; `None` without a source.
pub fn chain(error: Option<&(dyn Error + 'static)>) -> Option<String> {
    let causes: Vec<String> = sources(error).collect();
    (!causes.is_empty()).then(|| causes.join(": "))
}

/// Called by `#[traced(err)]` as its function returns an error (outside its own span, in
/// its caller's): whether this is the error's first report. `span` is the function's
/// span, `text` the error as the span records it, `error` the error value if it is one.
pub fn first_report(
    span: &tracing::Span,
    text: &str,
    error: Option<&(dyn Error + 'static)>,
) -> bool {
    let reported = span.id().and_then(|id| take(&id));
    let duplicate = reported.as_ref().is_some_and(|messages| {
        let mut own = std::iter::once(text.to_owned()).chain(sources(error));
        own.any(|text| {
            messages
                .iter()
                .any(|m| !m.is_empty() && text.contains(m.as_str()))
        })
    });
    // The caller learns what was reported for this error, innermost first.
    if let Some(caller) = tracing::Span::current().id() {
        let mut messages = if duplicate {
            reported.unwrap_or_default()
        } else {
            Vec::new()
        };
        messages.push(text.to_owned());
        add(&caller, messages);
    }
    !duplicate || EVERY_LEVEL.load(Ordering::Relaxed)
}

fn take(id: &tracing::Id) -> Option<Vec<String>> {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut table = table();
    let taken = table.remove(&id.into_u64());
    PENDING.store(table.len(), Ordering::Relaxed);
    taken
}

fn add(id: &tracing::Id, messages: Vec<String>) {
    let mut table = table();
    if table.len() >= MAX_SPANS && !table.contains_key(&id.into_u64()) {
        return;
    }
    let entry = table.entry(id.into_u64()).or_default();
    for message in messages {
        if entry.len() < MAX_MESSAGES && !entry.contains(&message) {
            entry.push(message);
        }
    }
    PENDING.store(table.len(), Ordering::Relaxed);
}

/// Called by `#[traced(err)]` as its function returns anything but an error: it
/// recovered from what its callees reported, which therefore stops here.
pub fn recovered(span: &tracing::Span) {
    if PENDING.load(Ordering::Relaxed) != 0
        && let Some(id) = span.id()
    {
        let _ = take(&id);
    }
}

/// Span `id` closed. A `#[traced(err)]` function's span has decided by now (reported,
/// passed on, or recovered: its entry is gone). Any other span — a plain one of the
/// service's own, a `#[traced]` function's without `err` — decides nothing, so it hands
/// what its callees reported to `parent()`: the span it was opened in, or when that has
/// closed (a spawned task outliving its spawner) its nearest ancestor still open. Such a
/// span between two traced functions does not hide the inner report from the outer one.
/// `parent` is only called when the span holds reports.
pub(crate) fn close(id: &tracing::Id, parent: impl FnOnce() -> Option<tracing::Id>) {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return;
    }
    if let Some(messages) = take(id)
        && let Some(parent) = parent()
    {
        add(&parent, messages);
    }
}

/// How many spans hold reports now (for tests).
#[doc(hidden)]
pub fn pending() -> usize {
    PENDING.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("reserve failed")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_chain_lists_causes_and_is_absent_without_one() {
        let wrapped = Wrapper(std::io::Error::other("out of stock"));
        assert_eq!(chain(Some(&wrapped)).as_deref(), Some("out of stock"));
        let plain = std::io::Error::other("plain");
        assert_eq!(chain(Some(&plain)), None);
        assert_eq!(chain(None), None);
    }
}
