//! The secrets every sink is tested with.

/// Secrets as `(key, value)`: keys in several spellings, values that must vanish.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "Password",
    "user_password",
    "newPassword",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "clientSecret",
    "token",
    "access_token",
    "refreshToken",
    "id-token",
    "api_key",
    "apiKey",
    "API-KEY",
    "x-api-key",
    "Authorization",
    "authorization",
    "cookie",
    "Set-Cookie",
    "set_cookie",
    "ssn",
    "SSN",
    "card_number",
    "cardNumber",
    "creditCard",
    "cvv",
    "private_key",
    "session_id",
];

/// Secrets recognised by their value alone, in any key.
pub const SECRET_VALUES: &[(&str, &str)] = &[
    ("an e-mail", "jane.doe@example.com"),
    ("a plus e-mail", "ops+alerts@teei.example.org"),
    ("a bearer token", "Bearer abcdef1234567890"),
    (
        "a JWT",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("a Visa number", "4111111111111111"),
    ("a spaced card", "4111 1111 1111 1111"),
    ("a dashed card", "5500-0055-5555-5559"),
    ("an Amex number", "378282246310005"),
    // Credential formats (made-up values of the right shape).
    ("an AWS access key ID", "AKIAZ7Q3L5XWJ2M8N4PR"),
    ("a GitHub token", "ghp_R8fK2mQ9xLwT4vB7nZ1cY6hJ3sD0aE5gU2pW"),
    ("a GitLab token", "glpat-Xy7_Qw3-Er9tYu1IoP5a"),
    ("a Stripe key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    (
        "a Slack webhook",
        "https://hooks.slack.com/services/T0ABC1234/B0DEF5678/aBcDeFgHiJkLmNoPqRsTuVwX",
    ),
    (
        "a Google API key",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ),
    (
        "a PEM private key",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    ),
];
