//! The registry: every annotated function of the binary, found through `linkme`
//! distributed slices before the first call.
//!
//! The macros place one `static` [`FunctionEntry`] per annotated function in a
//! `linkme` distributed slice of the runtime crate; nothing has to be
//! registered by hand. An entry exists as soon as the function is compiled into the binary,
//! whether it is ever called or not.
//!
//! One caveat of the linker: a dependency crate the binary never mentions is not linked at
//! all, and its entries go with it. A crate whose annotated functions are only reached
//! dynamically should be named once, e.g. `use my_handlers as _;`.

use std::collections::HashMap;
use std::fmt;

use crate::metrics::FunctionMetrics;

/// Where an annotated function is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// Source file, as `file!()` gives it.
    pub file: &'static str,
    /// Line of the function's name.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// What a macro attached to a function.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Instrumentation {
    /// `#[counted]`: call counters, and optionally a duration histogram and a gauge.
    Counted(&'static FunctionMetrics),
    /// `#[traced]`: a span around every call.
    Traced(&'static TracedInfo),
}

/// What `#[traced]` declared for a function.
#[derive(Debug)]
pub struct TracedInfo {
    span_name: &'static str,
    level: tracing::Level,
    kind: &'static str,
}

impl TracedInfo {
    #[doc(hidden)]
    pub const fn new(span_name: &'static str, level: tracing::Level, kind: &'static str) -> Self {
        TracedInfo {
            span_name,
            level,
            kind,
        }
    }

    /// The span's name.
    pub fn span_name(&self) -> &'static str {
        self.span_name
    }

    /// The span's level.
    pub fn level(&self) -> tracing::Level {
        self.level
    }

    /// The OpenTelemetry span kind: `server`, `client`, `internal`, `producer` or `consumer`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

/// One annotated function, as its macro registered it.
#[derive(Debug)]
pub struct FunctionEntry {
    name: &'static str,
    module: &'static str,
    location: Location,
    instrumentation: Instrumentation,
}

impl FunctionEntry {
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        module: &'static str,
        file: &'static str,
        line: u32,
        instrumentation: Instrumentation,
    ) -> Self {
        FunctionEntry {
            name,
            module,
            location: Location { file, line },
            instrumentation,
        }
    }

    /// The `function` label: the function's name, or the macro's `name = "…"`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The `module` label: the `module_path!()` of the definition.
    pub fn module(&self) -> &'static str {
        self.module
    }

    /// Where the function is defined.
    pub fn location(&self) -> Location {
        self.location
    }

    /// What the macro attached.
    pub fn instrumentation(&self) -> Instrumentation {
        self.instrumentation
    }

    /// The function's metric storage, if it is `#[counted]`.
    pub fn metrics(&self) -> Option<&'static FunctionMetrics> {
        match self.instrumentation {
            Instrumentation::Counted(metrics) => Some(metrics),
            Instrumentation::Traced(_) => None,
        }
    }

    /// What `#[traced]` declared, if the function is traced.
    pub fn traced(&self) -> Option<&'static TracedInfo> {
        match self.instrumentation {
            Instrumentation::Traced(info) => Some(info),
            Instrumentation::Counted(_) => None,
        }
    }
}

/// Every annotated function linked into this binary, in link order: one entry per
/// macro, so a function that is both `#[counted]` and `#[traced]` appears twice.
///
/// ```
/// #[teei_obs::counted]
/// fn handle() {}
///
/// let entry = teei_obs::registry::functions()
///     .find(|f| f.name() == "handle")
///     .expect("registered before any call");
/// assert_eq!(entry.module(), module_path!());
/// ```
pub fn functions() -> impl ExactSizeIterator<Item = &'static FunctionEntry> {
    crate::__private::TEEI_OBS_FUNCTIONS.iter()
}

/// Why the registry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two functions would export the same series.
    #[error(
        "two counted functions export the same series function=\"{name}\" module=\"{module}\": \
         {first} and {second}; give one of them `#[counted(name = \"…\")]`"
    )]
    Duplicate {
        /// The shared `function` label.
        name: &'static str,
        /// The shared `module` label.
        module: &'static str,
        /// The first definition in link order.
        first: Location,
        /// The other definition.
        second: Location,
    },
    /// Two health checks of one name: `/health` could not tell them apart.
    #[error(
        "two health checks are named {name:?}: {first} and {second}; give one of them \
         `#[health_check(name = \"…\")]`"
    )]
    DuplicateCheck {
        /// The shared name.
        name: &'static str,
        /// The first definition in link order.
        first: Location,
        /// The other definition.
        second: Location,
    },
    /// A `function` label outside the naming rule.
    #[error(
        "invalid function name {name:?} at {location}: expected an identifier \
         or a `::`-separated path of identifiers, at most {MAX_NAME_LEN} bytes"
    )]
    InvalidName {
        /// The offending label value.
        name: &'static str,
        /// The definition.
        location: Location,
    },
}

/// The longest accepted `function` label (the macro checks the same limit).
pub const MAX_NAME_LEN: usize = teei_obs_shared::MAX_NAME_LEN;

/// Whether `name` is an identifier or a `::`-separated path of identifiers: the rule
/// `#[counted(name = "…")]` is checked against at compile time.
pub(crate) fn is_valid_name(name: &str) -> bool {
    teei_obs_shared::is_valid_function_name(name)
}

/// Checks `entries` for invalid names and duplicated series; returns every problem.
pub(crate) fn validate<'a>(
    entries: impl IntoIterator<Item = &'a FunctionEntry>,
) -> Vec<RegistryError> {
    let mut problems = Vec::new();
    let mut seen: HashMap<(&str, &str), Location> = HashMap::new();
    // Only counted functions export series; span names may repeat.
    for entry in entries
        .into_iter()
        .filter(|entry| entry.metrics().is_some())
    {
        if !is_valid_name(entry.name) {
            problems.push(RegistryError::InvalidName {
                name: entry.name,
                location: entry.location,
            });
        }
        if let Some(first) = seen.insert((entry.name, entry.module), entry.location) {
            problems.push(RegistryError::Duplicate {
                name: entry.name,
                module: entry.module,
                first,
                second: entry.location,
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::FunctionMetrics;

    static METRICS: FunctionMetrics = FunctionMetrics::new(None, false, None);

    fn entry(name: &'static str, line: u32) -> FunctionEntry {
        FunctionEntry::new(
            name,
            "app::orders",
            "src/orders.rs",
            line,
            Instrumentation::Counted(&METRICS),
        )
    }

    #[test]
    fn names_are_identifiers_or_paths_of_identifiers() {
        for good in ["handle", "_x", "Order::new", "a1::b_2"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "1x", "a b", "a::", "::a", "a:b", "é", "a-b"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(!is_valid_name(&"a".repeat(MAX_NAME_LEN + 1)));
    }

    #[test]
    fn a_duplicate_series_names_both_locations() {
        let problems = validate(&[entry("place", 10), entry("ship", 20), entry("place", 30)]);
        assert_eq!(problems.len(), 1);
        let message = problems[0].to_string();
        assert!(message.contains("src/orders.rs:10"), "{message}");
        assert!(message.contains("src/orders.rs:30"), "{message}");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let problems = validate(&[entry("bad name", 1), entry("x", 2), entry("x", 3)]);
        assert_eq!(problems.len(), 2);
    }
}
