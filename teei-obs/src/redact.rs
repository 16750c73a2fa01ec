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

/// Whether a known credential prefix starts a word somewhere in `bytes`: the cheap test
/// before the scan.
fn maybe_credential(bytes: &[u8]) -> bool {
    (0..bytes.len()).any(|i| {
        (i == 0 || !is_token_byte(bytes[i - 1]))
            && matches!(
                bytes[i],
                b'A' | b'g' | b'n' | b'p' | b's' | b'r' | b'x' | b'S' | b'-' | b'h'
            )
            && credential(bytes, i).is_some()
    })
}

/// `count` bytes from `at` that all pass `class`, and nothing of the token kind right
/// after them; the end.
fn exactly(bytes: &[u8], at: usize, count: usize, class: fn(u8) -> bool) -> Option<usize> {
    let end = at.checked_add(count)?;
    let run = bytes.get(at..end)?;
    (run.iter().all(|b| class(*b))
        && bytes
            .get(end)
            .is_none_or(|b| !is_token_byte(*b) && !class(*b)))
    .then_some(end)
}

/// `min..=max` bytes from `at` that pass `class`, then a boundary; the end.
fn between(
    bytes: &[u8],
    at: usize,
    min: usize,
    max: usize,
    class: fn(u8) -> bool,
) -> Option<usize> {
    let mut end = at;
    while end < bytes.len() && class(bytes[end]) && end - at < max {
        end += 1;
    }
    let boundary = bytes
        .get(end)
        .is_none_or(|b| !is_token_byte(*b) && !class(*b));
    (end - at >= min && boundary).then_some(end)
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// A credential of a known format starting at `start` (a word start), as `(end, label)`.
fn credential(bytes: &[u8], start: usize) -> Option<(usize, &'static str)> {
    let rest = &bytes[start..];
    let after = |prefix: &[u8]| rest.starts_with(prefix).then(|| start + prefix.len());
    // AWS access key IDs: a four-letter prefix and 16 upper-case letters or digits.
    for prefix in [&b"AKIA"[..], b"ASIA", b"ABIA", b"ACCA"] {
        if let Some(at) = after(prefix) {
            return exactly(bytes, at, 16, upper_alnum).map(|end| (end, "aws-key"));
        }
    }
    // GitHub: classic tokens (`ghp_` and kin, 36 more) and fine-grained ones.
    for prefix in [&b"ghp_"[..], b"gho_", b"ghu_", b"ghs_", b"ghr_"] {
        if let Some(at) = after(prefix) {
            return exactly(bytes, at, 36, alnum).map(|end| (end, "github-token"));
        }
    }
    if let Some(at) = after(b"github_pat_") {
        return exactly(bytes, at, 82, |b| b.is_ascii_alphanumeric() || b == b'_')
            .map(|end| (end, "github-token"));
    }
    if let Some(at) = after(b"glpat-") {
        return exactly(bytes, at, 20, url_safe).map(|end| (end, "gitlab-token"));
    }
    if let Some(at) = after(b"npm_") {
        return exactly(bytes, at, 36, alnum).map(|end| (end, "npm-token"));
    }
    // PyPI upload tokens are macaroons whose header always encodes `pypi.org`.
    if let Some(at) = after(b"pypi-AgEIcHlwaS5vcmc") {
        return between(bytes, at, 50, 400, url_safe).map(|end| (end, "pypi-token"));
    }
    for prefix in [&b"sk_live_"[..], b"sk_test_", b"rk_live_", b"rk_test_"] {
        if let Some(at) = after(prefix) {
            return between(bytes, at, 24, 99, alnum).map(|end| (end, "stripe-key"));
        }
    }
    for prefix in [
        &b"xoxb-"[..],
        b"xoxp-",
        b"xoxa-",
        b"xoxr-",
        b"xoxs-",
        b"xoxe-",
    ] {
        if let Some(at) = after(prefix) {
            // Digit groups and a secret, separated by dashes: at least one dash inside.
            let end = between(bytes, at, 20, 250, alnum_dash)?;
            return bytes[at..end]
                .contains(&b'-')
                .then_some((end, "slack-token"));
        }
    }
    if let Some(at) = after(b"https://hooks.slack.com/services/T") {
        return slack_webhook(bytes, at).map(|end| (end, "slack-webhook"));
    }
    if let Some(at) = after(b"AIza") {
        return exactly(bytes, at, 35, url_safe).map(|end| (end, "google-api-key"));
    }
    if let Some(at) = after(b"SG.") {
        let dot = exactly(bytes, at, 22, url_safe).or_else(|| {
            // The first part ends at the second dot, not at a boundary.
            (bytes.get(at + 22) == Some(&b'.') && bytes[at..at + 22].iter().all(|b| url_safe(*b)))
                .then_some(at + 22)
        })?;
        if bytes.get(dot) != Some(&b'.') {
            return None;
        }
        return exactly(bytes, dot + 1, 43, url_safe).map(|end| (end, "sendgrid-key"));
    }
    if let Some(at) = after(b"-----BEGIN ") {
        return private_key_block(bytes, at).map(|end| (end, "private-key"));
    }
    None
}

/// The rest of `hooks.slack.com/services/T…/B…/secret` after the `T`.
fn slack_webhook(bytes: &[u8], at: usize) -> Option<usize> {
    let team_end = between_until(bytes, at, 8, 12, upper_alnum, b'/')?;
    if bytes.get(team_end + 1) != Some(&b'B') {
        return None;
    }
    let bot_end = between_until(bytes, team_end + 2, 8, 12, upper_alnum, b'/')?;
    exactly(bytes, bot_end + 1, 24, alnum)
}

/// `min..=max` bytes passing `class`, then `stop`; the position of `stop`.
fn between_until(
    bytes: &[u8],
    at: usize,
    min: usize,
    max: usize,
    class: fn(u8) -> bool,
    stop: u8,
) -> Option<usize> {
    let mut end = at;
    while end < bytes.len() && class(bytes[end]) && end - at < max {
        end += 1;
    }
    (end - at >= min && bytes.get(end) == Some(&stop)).then_some(end)
}

/// `-----BEGIN [KIND ]PRIVATE KEY----- … -----END [KIND ]PRIVATE KEY-----`, after `BEGIN `.
fn private_key_block(bytes: &[u8], at: usize) -> Option<usize> {
    let label_end = at + bytes[at..].iter().position(|b| *b == b'-')?;
    let label = &bytes[at..label_end];
    if !label.ends_with(b"PRIVATE KEY")
        || !label.iter().all(|b| b.is_ascii_uppercase() || *b == b' ')
        || !bytes[label_end..].starts_with(b"-----")
    {
        return None;
    }
    let mut footer = b"-----END ".to_vec();
    footer.extend_from_slice(label);
    footer.extend_from_slice(b"-----");
    let body = label_end + 5;
    let found = bytes[body..]
        .windows(footer.len())
        .position(|window| window == footer.as_slice())?;
    Some(body + found + footer.len())
}

/// The password of a URL's user-info: `start` is just after `scheme://user:`; the end is
/// at the `@` (which stays).
fn url_password(bytes: &[u8], start: usize) -> Option<usize> {
    // Look behind: `scheme://user:` right before `start`.
    let before = &bytes[..start];
    if !before.ends_with(b":") {
        return None;
    }
    let user_end = start - 1;
    let user_start = before[..user_end]
        .iter()
        .rposition(|b| {
            !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-'))
        })
        .map_or(0, |i| i + 1);
    // The user may be empty (`redis://:password@host`).
    if !before[..user_start].ends_with(b"://") {
        return None;
    }
    let scheme_end = user_start - 3;
    let scheme_start = before[..scheme_end]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')))
        .map_or(0, |i| i + 1);
    if scheme_start == scheme_end || !bytes[scheme_start].is_ascii_alphabetic() {
        return None;
    }
    // The password: up to the `@`, no white space, slash or second `@` in between.
    let mut end = start;
    while end < bytes.len() && !matches!(bytes[end], b'@' | b'/' | b' ' | b'\t' | b'\n') {
        end += 1;
    }
    (end > start && bytes.get(end) == Some(&b'@') && end + 1 < bytes.len()).then_some(end)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'%')
}

/// `Bearer <token>`: the whole phrase.
fn bearer(text: &str, start: usize) -> Option<usize> {
    let rest = text.get(start..start + 7)?;
    if !rest.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    let bytes = text.as_bytes();
    let mut end = start + 7;
    while end < bytes.len() && bytes[end] == b' ' {
        end += 1;
    }
    let token_start = end;
    while end < bytes.len()
        && (is_token_byte(bytes[end]) || matches!(bytes[end], b'/' | b'=' | b'~'))
    {
        end += 1;
    }
    (end - token_start >= 8).then_some(end)
}

/// `eyJ…` three base64url segments separated by dots.
fn jwt(bytes: &[u8], start: usize) -> Option<usize> {
    if !bytes[start..].starts_with(b"eyJ") {
        return None;
    }
    let mut end = start;
    let mut dots = 0;
    let mut segment = 0;
    while end < bytes.len() {
        let b = bytes[end];
        if b == b'.' {
            if segment < 2 {
                return None;
            }
            dots += 1;
            segment = 0;
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'=' {
            segment += 1;
        } else {
            break;
        }
        end += 1;
    }
    (dots == 2 && segment >= 2).then_some(end)
}

/// `local@domain.tld`.
fn email(bytes: &[u8], start: usize) -> Option<usize> {
    let local = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-');
    let mut at = start;
    while at < bytes.len() && local(bytes[at]) {
        at += 1;
    }
    if at == start || at >= bytes.len() || bytes[at] != b'@' {
        return None;
    }
    let domain_start = at + 1;
    let mut end = domain_start;
    while end < bytes.len()
        && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'.' | b'-'))
    {
        end += 1;
    }
    // Trailing dots belong to the sentence, not the address.
    while end > domain_start && bytes[end - 1] == b'.' {
        end -= 1;
    }
    let domain = &bytes[domain_start..end];
    let last_dot = domain.iter().rposition(|b| *b == b'.')?;
    let tld = &domain[last_dot + 1..];
    (last_dot > 0 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)).then_some(end)
}

/// 13 to 19 digits, optionally grouped by single spaces or dashes, passing Luhn.
fn card(bytes: &[u8], start: usize) -> Option<usize> {
    if !bytes[start].is_ascii_digit() {
        return None;
    }
    let mut digits = Vec::with_capacity(19);
    let mut end = start;
    let mut last_digit_end = start;
    while end < bytes.len() && digits.len() < 19 {
        let b = bytes[end];
        if b.is_ascii_digit() {
            digits.push(b - b'0');
            end += 1;
            last_digit_end = end;
        } else if matches!(b, b' ' | b'-')
            && end + 1 < bytes.len()
            && bytes[end + 1].is_ascii_digit()
        {
            end += 1;
        } else {
            break;
        }
    }
    // The run must end here: a longer number is not a card number.
    if last_digit_end < bytes.len() && bytes[last_digit_end].is_ascii_digit() {
        return None;
    }
    ((13..=19).contains(&digits.len()) && luhn(&digits)).then_some(last_digit_end)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_normalisation_matches_the_allocating_one() {
        let long = "x".repeat(80) + "_Password";
        for key in [
            "user.Password",
            "API-Key",
            "http.request.header.cookie",
            "a b_c-d.e",
            "",
            "otel.name",
            long.as_str(),
            "pässword",
        ] {
            let mut buffer = [0u8; 64];
            match normalise_ascii(key, &mut buffer) {
                Some(fast) => assert_eq!(fast, normalise(key), "{key}"),
                None => assert!(!key.is_ascii() || normalise(key).len() > 64, "{key}"),
            }
        }
        let redactor = Redactor::default();
        assert!(
            redactor.is_sensitive_key(&long),
            "long keys take the allocating path"
        );
        assert!(redactor.is_sensitive_key("user.Password"));
        assert!(!redactor.is_sensitive_key("http.route"));
    }

    #[test]
    fn luhn_accepts_test_card_numbers_and_rejects_neighbours() {
        for card in [
            "4111111111111111",
            "5500005555555559",
            "378282246310005",
            "6011111111111117",
        ] {
            let digits: Vec<u8> = card.bytes().map(|b| b - b'0').collect();
            assert!(luhn(&digits), "{card}");
        }
        let digits: Vec<u8> = "4111111111111112".bytes().map(|b| b - b'0').collect();
        assert!(!luhn(&digits));
    }

    #[test]
    fn sensitive_pairs_inside_text_lose_their_values() {
        let policy = Redactor::default();
        for (text, expected) in [
            (
                r#"{"user":"ada","password":"hunter2"}"#,
                r#"{"user":"ada","password":[REDACTED]}"#,
            ),
            (
                "Login { user: \"ada\", password: \"hunter2\" }",
                "Login { user: \"ada\", password: [REDACTED] }",
            ),
            (
                "/login?user=ada&api_key=abc123&x=1",
                "/login?user=ada&api_key=[REDACTED]&x=1",
            ),
            (
                "Authorization: Basic YWxhZGRpbjpvcGVu",
                "Authorization: [REDACTED]",
            ),
            (
                "retry after password=x y; next",
                "retry after password=[REDACTED]; next",
            ),
        ] {
            assert_eq!(policy.redact_text(text), expected, "{text}");
        }
    }

    #[test]
    fn text_keeps_what_is_not_secret() {
        let policy = Redactor::default();
        for keep in [
            "order 12345 shipped",
            "phone 0123456789",
            "id 4111111111111112",
            "version 1.2.3",
            "user@localhost",
            "eyJ is not a token",
            "bearer of bad news",
        ] {
            assert_eq!(policy.redact_text(keep), keep);
        }
    }
}
