//! What [`init`](crate::init) is told: environment variables first, builder methods over them.

use crate::InitError;

/// Configuration of [`init`](crate::init).
///
/// ```
/// let config = teei_obs::Config::new("checkout").service_version("1.4.2");
/// assert_eq!(config.name(), "checkout");
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    service_name: String,
    service_version: String,
}

impl Config {
    /// A configuration for `service_name` with no environment applied.
    pub fn new(service_name: impl Into<String>) -> Self {
        Config {
            service_name: service_name.into(),
            service_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Reads the standard variables: `OTEL_SERVICE_NAME` (required to be non-empty if
    /// set; `unknown_service` otherwise, as OpenTelemetry specifies) and
    /// `SERVICE_VERSION`.
    pub fn from_env() -> Result<Self, InitError> {
        let mut config = Config::new("unknown_service");
        if let Some(name) = read_var("OTEL_SERVICE_NAME")? {
            config.service_name = name;
        }
        if let Some(version) = read_var("SERVICE_VERSION")? {
            config.service_version = version;
        }
        Ok(config)
    }

    /// Sets the service name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets the service version.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = version.into();
        self
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.service_name
    }

    /// The service version.
    pub fn version(&self) -> &str {
        &self.service_version
    }
}

fn read_var(variable: &'static str) -> Result<Option<String>, InitError> {
    match std::env::var(variable) {
        Ok(value) if value.trim().is_empty() => Err(InitError::InvalidEnv {
            variable,
            value,
            expected: "a non-empty string",
        }),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(InitError::InvalidEnv {
            variable,
            value: value.to_string_lossy().into_owned(),
            expected: "valid UTF-8",
        }),
    }
}
