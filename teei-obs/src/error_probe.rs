//! What `#[traced(err)]` learns of an error type it cannot name a bound for: the error
//! value behind it, if there is one, and its type's name when that says something.
//! Autoref specialisation: `(&&&ErrorProbe(&e)).error_value()` takes the first tier whose
//! bound holds — `E: Error`, `E: AsRef<dyn Error + Send + Sync>` (`anyhow::Error`,
//! `Box<dyn Error + Send + Sync>`), `E: AsRef<dyn Error>`, anything.

use std::error::Error;

/// The error a macro holds, probed by the tiers below.
#[derive(Debug)]
pub struct ErrorProbe<'a, E: ?Sized>(pub &'a E);

impl<E: ?Sized> Clone for ErrorProbe<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E: ?Sized> Copy for ErrorProbe<'_, E> {}

/// Tier 1: an error type.
pub trait ViaError<'a> {
    /// The error value.
    fn error_value(self) -> Option<&'a (dyn Error + 'static)>;
    /// The type's name.
    fn type_name(self) -> &'static str;
}
impl<'a, E: Error + 'static> ViaError<'a> for &&&ErrorProbe<'a, E> {
    fn error_value(self) -> Option<&'a (dyn Error + 'static)> {
        Some(self.0)
    }
    fn type_name(self) -> &'static str {
        std::any::type_name::<E>()
    }
}

/// Tier 2: a holder of a shareable error (`anyhow::Error`, a boxed error).
pub trait ViaAsRefShared<'a> {
    /// The error value held.
    fn error_value(self) -> Option<&'a (dyn Error + 'static)>;
    /// Empty: the holder's name says nothing the error's own does not.
    fn type_name(self) -> &'static str;
}
impl<'a, E: AsRef<dyn Error + Send + Sync + 'static> + ?Sized> ViaAsRefShared<'a>
    for &&ErrorProbe<'a, E>
{
    fn error_value(self) -> Option<&'a (dyn Error + 'static)> {
        let error: &'a (dyn Error + Send + Sync + 'static) = self.0.as_ref();
        Some(error)
    }
    fn type_name(self) -> &'static str {
        ""
    }
}

/// Tier 3: a holder of an error (`Box<dyn Error>`).
pub trait ViaAsRef<'a> {
    /// The error value held.
    fn error_value(self) -> Option<&'a (dyn Error + 'static)>;
    /// Empty, as for tier 2.
    fn type_name(self) -> &'static str;
}
impl<'a, E: AsRef<dyn Error + 'static> + ?Sized> ViaAsRef<'a> for &ErrorProbe<'a, E> {
    fn error_value(self) -> Option<&'a (dyn Error + 'static)> {
        Some(self.0.as_ref())
    }
    fn type_name(self) -> &'static str {
        ""
    }
}

/// Tier 4: anything else (a `String`): no error value, its type's name.
pub trait ViaNothing<'a> {
    /// None.
    fn error_value(self) -> Option<&'a (dyn Error + 'static)>;
    /// The type's name.
    fn type_name(self) -> &'static str;
}
impl<'a, E: ?Sized> ViaNothing<'a> for ErrorProbe<'a, E> {
    fn error_value(self) -> Option<&'a (dyn Error + 'static)> {
        None
    }
    fn type_name(self) -> &'static str {
        std::any::type_name::<E>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // The borrows are the probe: the macro writes `&&&` for every type.
    #[allow(clippy::needless_borrow)]
    fn each_tier_is_taken_by_the_types_it_is_for() {
        let io = std::io::Error::other("reset");
        let probe = ErrorProbe(&io);
        assert_eq!((&&&probe).error_value().unwrap().to_string(), "reset");
        assert_eq!((&&&probe).type_name(), "std::io::error::Error");

        let shared: Box<dyn Error + Send + Sync> = "shared".into();
        let probe = ErrorProbe(&shared);
        assert_eq!((&&&probe).error_value().unwrap().to_string(), "shared");
        assert_eq!((&&&probe).type_name(), "");

        let local: Box<dyn Error> = "local".into();
        let probe = ErrorProbe(&local);
        assert_eq!((&&&probe).error_value().unwrap().to_string(), "local");
        assert_eq!((&&&probe).type_name(), "");

        let text = String::from("no error type");
        let probe = ErrorProbe(&text);
        assert!((&&&probe).error_value().is_none());
        assert_eq!((&&&probe).type_name(), "alloc::string::String");
    }
}
