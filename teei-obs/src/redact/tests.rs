//! The redaction policy against secrets, look-alikes and ordinary text.

use super::patterns::luhn;
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

#[test]
fn the_one_pass_filter_lets_through_everything_the_scans_would_change() {
    // Every secret shape the scans know, and text around them; all concatenations of
    // three fragments (17,576 texts). Whenever the full scans change a text, the one-pass
    // filter must have let it through.
    let github = format!("ghp_{}", "a".repeat(36));
    let aws = "AKIAIOSFODNN7EXAMPLE".to_owned();
    let fragments: Vec<String> = [
        "",
        " ",
        "x",
        "(",
        "-",
        "\"",
        "4111111111111111",
        "41111",
        "11111111",
        "ada@example.com",
        "Bearer abcdefghijklmnop",
        "bearer ",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2ln",
        "password=hunter2",
        "token: t0k",
        "https://user:secret@db.internal/x",
        "xoxb-1234567890-abcdefghijklmnop",
        "sk_live_abcdefghijklmnopqrstuvwxyz",
        "AIzaSyA1234567890abcdefghijklmnopqrstu",
        "GET",
        "/orders/{id}",
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        "glpat-abcdefghij0123456789",
        &github,
        &aws,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let policy = Redactor::default();
    let mut changed = 0;
    for a in &fragments {
        for b in &fragments {
            for c in &fragments {
                let text = format!("{a}{b}{c}");
                if policy.redact_text(&text) != text {
                    changed += 1;
                    assert!(
                        may_need_redaction(text.as_bytes()),
                        "filtered out: {text:?}"
                    );
                    assert!(!is_clearly_clean(&text), "{text:?}");
                }
            }
        }
    }
    // The corpus does exercise the scans.
    assert!(changed > 10_000, "{changed}");
    for clean in ["GET", "/", "http", "/orders/{id}", "HTTP request", "200"] {
        assert!(is_clearly_clean(clean), "{clean}");
    }
    // Past the one loop's length, the scans decide.
    assert!(!is_clearly_clean(&"a".repeat(ONE_PASS_MAX + 1)));
}
