//! Who the service is: name, version, deployment environment, resource attributes.

use super::Config;
use super::env::{Env, invalid, percent_decode};
use crate::InitError;

/// The service's identity, as spans, log lines, Sentry events and reports carry it.
#[derive(Clone, Debug)]
pub(crate) struct ServiceSettings {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) environment: String,
    pub(crate) resource_attributes: Vec<(String, String)>,
}

impl ServiceSettings {
    pub(super) fn new(name: String) -> Self {
        ServiceSettings {
            name,
            version: None,
            environment: "development".to_owned(),
            resource_attributes: Vec::new(),
        }
    }

    /// `OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME`, `SERVICE_VERSION` and
    /// `DEPLOYMENT_ENVIRONMENT` over the attributes of the same meaning.
    pub(super) fn read(&mut self, env: &Env<'_>) -> Result<(), InitError> {
        self.resource_attributes = env.resource_attributes()?;
        let from_resource = |key: &str| {
            self.resource_attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        if let Some(name) = env
            .var("OTEL_SERVICE_NAME")
            .or_else(|| from_resource("service.name"))
        {
            self.name = name;
        }
        if let Some(version) = env
            .var("SERVICE_VERSION")
            .or_else(|| from_resource("service.version"))
        {
            self.version = Some(version);
        }
        if let Some(environment) = env
            .var("DEPLOYMENT_ENVIRONMENT")
            .or_else(|| from_resource("deployment.environment.name"))
            .or_else(|| from_resource("deployment.environment"))
        {
            self.environment = environment;
        }
        Ok(())
    }

    pub(crate) fn is_production(&self) -> bool {
        self.environment == "production"
    }
}

impl Env<'_> {
    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs, values percent-decoded.
    pub(super) fn resource_attributes(&self) -> Result<Vec<(String, String)>, InitError> {
        const NAME: &str = "OTEL_RESOURCE_ATTRIBUTES";
        const EXPECTED: &str = "comma-separated key=value pairs with percent-encoded values";
        let Some(value) = self.var(NAME) else {
            return Ok(Vec::new());
        };
        let mut attributes: Vec<(String, String)> = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, raw) = entry
                .split_once('=')
                .ok_or_else(|| invalid(NAME, value.clone(), EXPECTED))?;
            let key = key.trim();
            let decoded = percent_decode(raw.trim());
            match decoded {
                Some(decoded) if !key.is_empty() => {
                    attributes.retain(|(k, _)| k != key);
                    attributes.push((key.to_owned(), decoded));
                }
                _ => return Err(invalid(NAME, value.clone(), EXPECTED)),
            }
        }
        Ok(attributes)
    }
}

impl Config {
    /// Sets the service name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service.name = name.into();
        self
    }

    /// Sets the service version (`service.version`, the Sentry release).
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service.version = Some(version.into());
        self
    }

    /// Adds `key = value` to the exported resource (as `OTEL_RESOURCE_ATTRIBUTES` does);
    /// `service.name`, `service.version` and `deployment.environment.name` come from their
    /// own settings and win over these.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.service.resource_attributes.retain(|(k, _)| *k != key);
        self.service.resource_attributes.push((key, value.into()));
        self
    }

    /// Sets the deployment environment; `production` samples 10 % of new traces by default.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.service.environment = environment.into();
        self
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.service.name
    }

    /// The service version, if one is known.
    pub fn version(&self) -> Option<&str> {
        self.service.version.as_deref()
    }

    /// The extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, [`Config::resource_attribute`]).
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.service.resource_attributes
    }

    /// The deployment environment.
    pub fn deployment_environment(&self) -> &str {
        &self.service.environment
    }
}
