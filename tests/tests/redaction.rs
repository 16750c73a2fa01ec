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
