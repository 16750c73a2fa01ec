//! One redaction policy for every place data leaves the process: log lines, span
//! attributes before export (and, when error tracking lands, its events).
//!
//! Two rules:
//!
//! - **By key**, at any nesting depth: a value whose key names a secret (`password`,
//!   `api_key`, `Authorization`, `set-cookie`, `cardNumber`, … in any case and with `_`, `-`,
//!   `.` or nothing between the words) is replaced whole.
//! - **By value**: inside any text, e-mail addresses, bearer tokens, JWTs, card numbers
//!   that pass the Luhn check, and credentials in the formats secret scanners (gitleaks,
//!   trufflehog) detect with few false positives are replaced, and the rest of the text is
//!   kept: AWS access key IDs, GitHub and GitLab tokens, npm and PyPI tokens, Stripe keys,
//!   Slack tokens and webhook URLs, Google API keys, SendGrid keys, PEM private-key blocks,
//!   and the password of a URL's user-info (`postgres://app:[REDACTED:password]@db`). Digit
//!   runs that fail Luhn, look-alikes of the wrong length or prefix, and ordinary words are
//!   left alone.
//!
//! ```
//! use teei_obs::redact::Redactor;
//!
//! let policy = Redactor::default();
//! assert!(policy.is_sensitive_key("X-Api-Key"));
//! assert_eq!(
//!     policy.redact_text("mail jane.doe@example.com, card 4111 1111 1111 1111"),
//!     "mail [REDACTED:email], card [REDACTED:card]"
//! );
//! assert_eq!(policy.redact_text("order 4111 1111 1111 1112"), "order 4111 1111 1111 1112");
//! ```

use std::borrow::Cow;
use std::sync::Arc;

mod patterns;

use patterns::{
    bearer, card, credential, email, is_token_byte, jwt, maybe_credential, starts_credential,
    url_password,
};

/// What replaces a value whose key is sensitive.
pub const REDACTED: &str = "[REDACTED]";

/// Words that make a key sensitive wherever they appear in it (after normalising: lower
/// case, separators removed).
const CONTAINS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "privatekey",
    "creditcard",
    "cardnumber",
    "ccnumber",
    "sessionid",
    "socialsecurity",
    "iban",
];

/// Keys that are sensitive only as a whole (they are too short to search for inside other
/// words: `ssn` is in `classname`).
const EXACT: &[&str] = &[
    "pwd", "pass", "auth", "ssn", "cvv", "cvc", "pin", "otp", "jwt",
];

/// The redaction policy. Cheap to clone; [`Redactor::default`] is the built-in list.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    extra_keys: Arc<Vec<String>>,
}

fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// [`normalise`] into `buffer`, for an ASCII key that fits.
fn normalise_ascii<'b>(key: &str, buffer: &'b mut [u8; 64]) -> Option<&'b str> {
    if !key.is_ascii() {
        return None;
    }
    let mut len = 0;
    for byte in key.bytes() {
        if matches!(byte, b'_' | b'-' | b'.' | b' ') {
            continue;
        }
        *buffer.get_mut(len)? = byte.to_ascii_lowercase();
        len += 1;
    }
    std::str::from_utf8(&buffer[..len]).ok()
}

impl Redactor {
    /// The built-in policy plus `keys` (any spelling; matched like the built-in words, as
    /// a part of a key).
    pub fn with_keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Redactor {
            extra_keys: Arc::new(keys.into_iter().map(|k| normalise(k.as_ref())).collect()),
        }
    }

    /// Whether a value stored under `key` must be hidden whole.
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        // Separators go before matching, so `user.password`, `api-key` and
        // `http.request.header.cookie` are caught as well as `apiKey`. Short ASCII keys (all
        // field names in practice) are normalised on the stack: this runs for every
        // attribute of every sampled span.
        let mut buffer = [0u8; 64];
        let owned;
        let key = match normalise_ascii(key, &mut buffer) {
            Some(key) => key,
            None => {
                owned = normalise(key);
                owned.as_str()
            }
        };
        CONTAINS.iter().any(|word| key.contains(word))
            || EXACT.contains(&key)
            || self
                .extra_keys
                .iter()
                .any(|word| key.contains(word.as_str()))
    }

    /// [`Redactor::is_sensitive_key`] for a field name of the program (a span attribute
    /// name), remembered per thread: the same few names come back on every span.
    pub fn is_sensitive_name(&self, name: &'static str) -> bool {
        use std::cell::RefCell;
        use std::collections::HashMap;
        thread_local! {
            static KNOWN: RefCell<HashMap<(usize, usize, usize), bool, crate::hash::FastBuild>> =
                RefCell::new(HashMap::default());
        }
        let key = (
            name.as_ptr() as usize,
            name.len(),
            Arc::as_ptr(&self.extra_keys) as usize,
        );
        if let Some(known) = KNOWN.with(|known| known.borrow().get(&key).copied()) {
            return known;
        }
        let sensitive = self.is_sensitive_key(name);
        KNOWN.with(|known| {
            let mut known = known.borrow_mut();
            // Bounded by the program's field names, unless policies come and go.
            if known.len() > 4096 {
                known.clear();
            }
            known.insert(key, sensitive);
        });
        sensitive
    }

    /// `value` with the values of sensitive keys written inside it (`"password":"…"`,
    /// `password=…`, `password: …`, as JSON, query strings and `Debug` output write them)
    /// and every e-mail address, bearer token, JWT and Luhn-valid card number replaced;
    /// borrowed when there was nothing to replace.
    pub fn redact_text<'a>(&self, value: &'a str) -> Cow<'a, str> {
        match self.redact_pairs(value) {
            Cow::Borrowed(_) => self.redact_patterns(value),
            Cow::Owned(paired) => Cow::Owned(self.redact_patterns(&paired).into_owned()),
        }
    }

    /// Replaces the value after every sensitive `key` followed by `:` or `=`.
    fn redact_pairs<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        if !bytes.iter().any(|b| matches!(b, b':' | b'=')) {
            return Cow::Borrowed(text);
        }
        let key_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if !key_byte(bytes[i]) || (i > 0 && key_byte(bytes[i - 1])) {
                i += 1;
                continue;
            }
            let key_start = i;
            while i < bytes.len() && key_byte(bytes[i]) {
                i += 1;
            }
            let key = &text[key_start..i];
            let mut j = i;
            if j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
                j += 1;
            }
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            if j >= bytes.len() || !matches!(bytes[j], b':' | b'=') || !self.is_sensitive_key(key) {
                continue;
            }
            j += 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let value_start = j;
            let value_end = if j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
                let quote = bytes[j];
                let mut k = j + 1;
                while k < bytes.len() && bytes[k] != quote {
                    k += if bytes[k] == b'\\' { 2 } else { 1 };
                }
                (k + 1).min(bytes.len())
            } else {
                let mut k = j;
                while k < bytes.len()
                    // Spaces do not end it: `Authorization: Basic <credentials>`.
                    && !matches!(bytes[k], b',' | b'}' | b')' | b']' | b'&' | b';' | b'\n' | b'"')
                {
                    k += 1;
                }
                k
            };
            if value_end > value_start {
                let buffer = out.get_or_insert_with(|| String::with_capacity(text.len()));
                buffer.push_str(&text[copied..value_start]);
                buffer.push_str(REDACTED);
                copied = value_end;
            }
            i = value_end.max(i);
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut buffer) => {
                buffer.push_str(&text[copied..]);
                Cow::Owned(buffer)
            }
        }
    }

    fn redact_patterns<'a>(&self, value: &'a str) -> Cow<'a, str> {
        // Quick exits: nothing that any pattern needs.
        let bytes = value.as_bytes();
        let has_at = bytes.contains(&b'@');
        let has_jwt = value.contains("eyJ");
        let has_bearer = bytes
            .windows(7)
            .any(|window| window.eq_ignore_ascii_case(b"bearer "));
        let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
        if !has_at && !has_jwt && !has_bearer && digits < 13 && !maybe_credential(bytes) {
            return Cow::Borrowed(value);
        }
        let mut out = String::with_capacity(value.len());
        let mut i = 0;
        let mut changed = false;
        while i < value.len() {
            if let Some((end, label)) = self.match_at(value, i) {
                out.push_str("[REDACTED:");
                out.push_str(label);
                out.push(']');
                i = end;
                changed = true;
                continue;
            }
            let c = value[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
        if changed {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(value)
        }
    }

    /// A sensitive value starting at byte `start`, as `(end, label)`.
    fn match_at(&self, text: &str, start: usize) -> Option<(usize, &'static str)> {
        let bytes = text.as_bytes();
        let at_word_start = start == 0 || !is_token_byte(bytes[start - 1]);
        if !at_word_start {
            return None;
        }
        if let Some(found) = credential(bytes, start) {
            return Some(found);
        }
        if let Some(end) = url_password(bytes, start) {
            return Some((end, "password"));
        }
        if let Some(end) = bearer(text, start) {
            return Some((end, "token"));
        }
        if let Some(end) = jwt(bytes, start) {
            return Some((end, "jwt"));
        }
        if let Some(end) = email(bytes, start) {
            return Some((end, "email"));
        }
        if let Some(end) = card(bytes, start) {
            return Some((end, "card"));
        }
        None
    }

    /// Redacts a JSON value in place: sensitive keys at any depth, patterns in every string.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if self.is_sensitive_key(key) {
                        *inner = serde_json::Value::String(REDACTED.to_owned());
                    } else {
                        self.redact_json(inner);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::String(text) => {
                if let Cow::Owned(redacted) = self.redact_text(text) {
                    *text = redacted;
                }
            }
            _ => {}
        }
    }
}

/// Whether [`Redactor::redact_text`] would return `value` as it is, decided by one short
/// loop: for span attribute values, mostly short (a method, a route, a path, a host), where
/// the five scans of `redact_text` cost more in set-up than in scanning. `false` says
/// nothing: the scans decide. Longer text is left to them, whose vectorised passes beat a
/// byte-at-a-time loop there; and `redact_text` itself does not call this, as the extra
/// branch slowed its long-text path by about 10 % (see docs/performance.md).
pub(crate) fn is_clearly_clean(value: &str) -> bool {
    value.len() <= ONE_PASS_MAX && !may_need_redaction(value.as_bytes())
}

/// The longest text [`is_clearly_clean`] looks at.
const ONE_PASS_MAX: usize = 48;

/// Whether anything in `bytes` could be redacted, in one pass: a `:` or `=` (a key-value
/// pair), an `@` (an e-mail address, a URL's password), `eyJ` (a JWT), `bearer `, 13
/// digits (a card number) or a known credential prefix at a word's start. It holds for
/// everything the scans of [`Redactor::redact_text`] could change.
fn may_need_redaction(bytes: &[u8]) -> bool {
    let mut digits = 0u32;
    let mut credential_start = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' | b'=' | b'@' => return true,
            b'0'..=b'9' => {
                digits += 1;
                if digits >= 13 {
                    return true;
                }
            }
            b'e' if bytes[i + 1..].starts_with(b"yJ") => return true,
            b'b' | b'B'
                if bytes
                    .get(i..i + 7)
                    .is_some_and(|word| word.eq_ignore_ascii_case(b"bearer ")) =>
            {
                return true;
            }
            _ => {}
        }
        credential_start |= starts_credential(b) && (i == 0 || !is_token_byte(bytes[i - 1]));
    }
    credential_start && maybe_credential(bytes)
}

#[cfg(test)]
mod tests;
