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
];
