//! The redaction policy: a corpus of secrets, look-alikes that must survive, and property
//! tests over generated key spellings, nesting and surrounding text.

use proptest::prelude::*;
use serde_json::{Value, json};
use teei_obs::redact::Redactor;
use teei_obs_tests::corpus::{SECRET_KEYS, SECRET_VALUES};

/// Values that only look similar and must be left as they are.
const LOOK_ALIKES: &[&str] = &[
    "4111111111111112",
    "order 12345678901234 shipped",
    "phone +44 20 7946 0958",
    "version 1.2.3-beta",
    "the bearer of the news",
    "user@localhost",
    "eyJ alone",
    "2026-11-27T10:00:00Z",
    "passport office",
];

#[test]
fn every_key_of_the_corpus_is_redacted_at_any_depth() {
    let policy = Redactor::default();
    for key in SECRET_KEYS {
        let mut value = json!({ "outer": [ { "inner": { *key: "s3cr3t-value" } } ], *key: 42 });
        policy.redact_json(&mut value);
        let text = value.to_string();
        assert!(
            !text.contains("s3cr3t-value") && !text.contains("42"),
            "{key}: {text}"
        );
    }
}

#[test]
fn every_value_of_the_corpus_is_redacted_in_any_text() {
    let policy = Redactor::default();
    for (what, secret) in SECRET_VALUES {
        let text = format!("user said: {secret}, then left");
        let redacted = policy.redact_text(&text);
        assert!(!redacted.contains(secret), "{what}: {redacted}");
        assert!(
            redacted.starts_with("user said: [REDACTED:"),
            "{what}: {redacted}"
        );
        assert!(redacted.ends_with(", then left"), "{what}: {redacted}");
    }
    assert!(SECRET_KEYS.len() + SECRET_VALUES.len() >= 30);
}

#[test]
fn look_alikes_are_left_intact() {
    let policy = Redactor::default();
    for text in LOOK_ALIKES {
        assert_eq!(policy.redact_text(text), *text);
    }
    let mut value = json!({ "order_id": "12345", "passenger": "Ada", "keyboard": "qwerty" });
    let before = value.clone();
    policy.redact_json(&mut value);
    assert_eq!(value, before);
}

#[test]
fn extra_keys_extend_the_policy() {
    let policy = Redactor::with_keys(["mothersMaidenName"]);
    assert!(policy.is_sensitive_key("mothers_maiden_name"));
    assert!(policy.is_sensitive_key("password"));
}

fn spelling() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        vec!["password"],
        vec!["api", "key"],
        vec!["access", "token"],
        vec!["client", "secret"],
        vec!["set", "cookie"],
        vec!["card", "number"],
        vec!["private", "key"],
    ]);
    let separator = prop::sample::select(vec!["", "_", "-", "."]);
    let prefix = prop::sample::select(vec!["", "user_", "x-", "new", "http.request.header."]);
    (words, separator, prefix, any::<u64>()).prop_map(|(words, separator, prefix, case)| {
        let joined = words.join(separator);
        let cased: String = joined
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if case >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        format!("{prefix}{cased}")
    })
}

fn nested(key: String, depth: usize) -> Value {
    let mut value = json!({ key: "generated-secret-value" });
    for level in 0..depth {
        value = if level % 2 == 0 {
            json!({ "data": value })
        } else {
            json!([1, value, "x"])
        };
    }
    value
}

fn luhn_card() -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..10, 15).prop_map(|mut digits| {
        digits.insert(0, 4);
        // Append the check digit.
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                let d = u32::from(d);
                if i % 2 == 0 {
                    let x = d * 2;
                    if x > 9 { x - 9 } else { x }
                } else {
                    d
                }
            })
            .sum();
        digits.push(((10 - sum % 10) % 10) as u8);
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sensitive_keys_are_redacted_whatever_the_spelling_and_depth(
        key in spelling(),
        depth in 0usize..6,
    ) {
        let mut value = nested(key.clone(), depth);
        Redactor::default().redact_json(&mut value);
        prop_assert!(!value.to_string().contains("generated-secret-value"), "{key} at {depth}: {value}");
    }

    #[test]
    fn card_numbers_inside_text_are_redacted_and_the_text_kept(
        card in luhn_card(),
        before in "[a-z ]{0,20}",
        after in "[a-z ]{0,20}",
    ) {
        let text = format!("{before} {card} {after}");
        let redacted = Redactor::default().redact_text(&text);
        prop_assert!(!redacted.contains(&card));
        let expected = format!("{before} [REDACTED:card] {after}");
        prop_assert_eq!(redacted.as_ref(), expected.as_str());
    }

    #[test]
    fn emails_inside_text_are_redacted(
        local in "[a-z][a-z0-9._]{0,12}",
        domain in "[a-z]{2,10}",
        tld in "[a-z]{2,4}",
    ) {
        let address = format!("{local}@{domain}.{tld}");
        let text = format!("contact {address} now");
        let redacted = Redactor::default().redact_text(&text);
        prop_assert_eq!(redacted.as_ref(), "contact [REDACTED:email] now");
    }

    #[test]
    fn text_without_secrets_comes_back_unchanged(text in "[a-zA-Z ,:;!?()]{0,80}") {
        let redacted = Redactor::default().redact_text(&text);
        prop_assert_eq!(redacted.as_ref(), text.as_str());
    }
}

// --- credential formats -------------------------------------------------------------------

/// `len` characters drawn from `alphabet`.
fn drawn(
    alphabet: &'static str,
    len: impl Into<proptest::collection::SizeRange>,
) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(alphabet.as_bytes().to_vec()), len)
        .prop_map(|bytes| String::from_utf8(bytes).expect("ASCII"))
}

const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const URL_SAFE: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

/// Redacts `secret` inside a sentence, with its label, keeping the sentence.
fn assert_redacted(secret: &str, label: &str) -> Result<(), TestCaseError> {
    let text = format!("config says {secret} for now");
    let redacted = Redactor::default().redact_text(&text);
    prop_assert!(!redacted.contains(secret), "{secret}: {redacted}");
    let expected = format!("config says [REDACTED:{label}] for now");
    prop_assert_eq!(redacted.as_ref(), expected.as_str());
    Ok(())
}

/// Leaves `look_alike` as it is.
fn assert_kept(look_alike: &str) -> Result<(), TestCaseError> {
    let text = format!("config says {look_alike} for now");
    let kept = Redactor::default().redact_text(&text);
    prop_assert_eq!(kept.as_ref(), text.as_str(), "a look-alike was redacted");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn aws_access_key_ids(
        prefix in proptest::sample::select(vec!["AKIA", "ASIA", "ABIA", "ACCA"]),
        body in drawn(UPPER_DIGITS, 16),
        short in drawn(UPPER, 15),
        long in drawn(UPPER, 17),
        wrong in proptest::sample::select(vec!["AKIB", "AKI", "akia", "BKIA"]),
    ) {
        assert_redacted(&format!("{prefix}{body}"), "aws-key")?;
        assert_kept(&format!("{prefix}{short}"))?;
        assert_kept(&format!("{prefix}{long}"))?;
        assert_kept(&format!("{wrong}{}", &long[..16]))?;
    }

    #[test]
    fn github_tokens(
        prefix in proptest::sample::select(vec!["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]),
        body in drawn(ALNUM, 36),
        fine in drawn("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", 82),
        short in drawn(LETTERS, 35),
    ) {
        assert_redacted(&format!("{prefix}{body}"), "github-token")?;
        assert_redacted(&format!("github_pat_{fine}"), "github-token")?;
        assert_kept(&format!("{prefix}{short}"))?;
        assert_kept(&format!("ghx_{}", &body.replace(char::is_numeric, "a")))?;
        assert_kept(&format!("github_pat_{}", &short))?;
    }

    #[test]
    fn gitlab_npm_and_pypi_tokens(
        gitlab in drawn(URL_SAFE, 20),
        npm in drawn(ALNUM, 36),
        pypi in drawn(URL_SAFE, 60..=120),
        short in drawn(LETTERS, 19),
    ) {
        assert_redacted(&format!("glpat-{gitlab}"), "gitlab-token")?;
        assert_redacted(&format!("npm_{npm}"), "npm-token")?;
        assert_redacted(&format!("pypi-AgEIcHlwaS5vcmc{pypi}"), "pypi-token")?;
        assert_kept(&format!("glpat-{short}"))?;
        assert_kept(&format!("glpat_{}", &gitlab.replace(['-', '_'], "x")))?;
        assert_kept(&format!("npm_{short}"))?;
        assert_kept(&format!("pypi-AgEIcHlwaS5vcmX{}", pypi.replace(['-', '_'], "y")))?;
    }

    #[test]
    fn stripe_slack_google_and_sendgrid_keys(
        mode in proptest::sample::select(vec!["sk_live_", "sk_test_", "rk_live_", "rk_test_"]),
        stripe in drawn(ALNUM, 24..=40),
        team in drawn(UPPER_DIGITS, 9),
        bot in drawn(UPPER_DIGITS, 11),
        hook in drawn(ALNUM, 24),
        google in drawn(URL_SAFE, 35),
        first in drawn(URL_SAFE, 22),
        second in drawn(URL_SAFE, 43),
        short in drawn(LETTERS, 20),
    ) {
        assert_redacted(&format!("{mode}{stripe}"), "stripe-key")?;
        assert_redacted(&format!("xoxb-1234567890-0987654321-{}", &hook), "slack-token")?;
        assert_redacted(
            &format!("https://hooks.slack.com/services/T{team}/B{bot}/{hook}"),
            "slack-webhook",
        )?;
        assert_redacted(&format!("AIza{google}"), "google-api-key")?;
        assert_redacted(&format!("SG.{first}.{second}"), "sendgrid-key")?;
        assert_kept(&format!("sk_prod_{stripe}"))?;
        assert_kept(&format!("{mode}{}", &short[..20]))?;
        assert_kept(&format!("xoxq-{short}-{short}"))?;
        assert_kept(&format!("xoxb-{short}"))?;
        assert_kept(&format!("AIza{}", &google[..34]))?;
        assert_kept(&format!("AIzb{google}"))?;
        assert_kept(&format!("SG.{}.{second}", &first[..21]))?;
    }
}

#[test]
fn pem_private_key_blocks_go_whole_and_public_blocks_stay() {
    let policy = Redactor::default();
    for kind in ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "] {
        let block = format!(
            "-----BEGIN {kind}PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END {kind}PRIVATE KEY-----"
        );
        let text = format!("key file:\n{block}\nend of file");
        assert_eq!(
            policy.redact_text(&text),
            "key file:\n[REDACTED:private-key]\nend of file",
            "{kind}"
        );
    }
    for kept in [
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----",
        // No footer: not a block (and nothing to cut up to).
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END EC PRIVATE KEY-----",
    ] {
        assert_eq!(policy.redact_text(kept), kept);
    }
}

#[test]
fn passwords_in_url_user_info_are_redacted_and_the_url_kept() {
    let policy = Redactor::default();
    for (url, expected) in [
        (
            "connecting to postgres://app:s3cr3t@db.internal:5432/orders",
            "connecting to postgres://app:[REDACTED:password]@db.internal:5432/orders",
        ),
        (
            "amqp://guest:p%40ss.w0rd@rabbit/",
            "amqp://guest:[REDACTED:password]@rabbit/",
        ),
        (
            "https://deploy:ghp-not-a-token@git.example.com/repo.git",
            "https://deploy:[REDACTED:password]@git.example.com/repo.git",
        ),
        // A password without a user name, as Redis URLs carry it.
        (
            "cannot reach redis://:hunter2pw@cache:6379/0",
            "cannot reach redis://:[REDACTED:password]@cache:6379/0",
        ),
    ] {
        assert_eq!(policy.redact_text(url), expected);
    }
    for kept in [
        "https://git.example.com/repo.git",
        "postgres://db.internal/orders",
        "ratio 3:2 at noon",
        "see http://example.com/a:b@c",
        "mailto:jane@localhost",
    ] {
        assert_eq!(policy.redact_text(kept), kept);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_url_password_is_redacted(
        scheme in "[a-z][a-z0-9+]{1,8}",
        user in "[a-z][a-z0-9._-]{0,10}",
        password in "[A-Za-z0-9!$&'()*+,;=._~-]{1,24}",
        host in "[a-z]{1,10}\\.[a-z]{2,4}",
    ) {
        let text = format!("dsn {scheme}://{user}:{password}@{host}/x");
        let redacted = Redactor::default().redact_text(&text);
        let expected = format!("dsn {scheme}://{user}:[REDACTED:password]@{host}/x");
        prop_assert_eq!(redacted.as_ref(), expected.as_str());
    }
}
