//! Redaction by value: the scanners that find e-mail addresses, bearer tokens, JWTs,
//! Luhn-valid card numbers and the credential formats secret scanners detect, each from a
//! starting byte, returning where the match ends.

/// Whether a known credential prefix starts a word somewhere in `bytes`: the cheap test
/// before the scan.
pub(super) fn maybe_credential(bytes: &[u8]) -> bool {
    (0..bytes.len()).any(|i| {
        (i == 0 || !is_token_byte(bytes[i - 1]))
            && starts_credential(bytes[i])
            && credential(bytes, i).is_some()
    })
}

/// Whether a known credential prefix can start with `b`.
pub(super) fn starts_credential(b: u8) -> bool {
    matches!(
        b,
        b'A' | b'g' | b'n' | b'p' | b's' | b'r' | b'x' | b'S' | b'-' | b'h'
    )
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
pub(super) fn credential(bytes: &[u8], start: usize) -> Option<(usize, &'static str)> {
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
pub(super) fn url_password(bytes: &[u8], start: usize) -> Option<usize> {
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

pub(super) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'%')
}

/// `Bearer <token>`: the whole phrase.
pub(super) fn bearer(text: &str, start: usize) -> Option<usize> {
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
pub(super) fn jwt(bytes: &[u8], start: usize) -> Option<usize> {
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
pub(super) fn email(bytes: &[u8], start: usize) -> Option<usize> {
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
pub(super) fn card(bytes: &[u8], start: usize) -> Option<usize> {
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

pub(super) fn luhn(digits: &[u8]) -> bool {
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
