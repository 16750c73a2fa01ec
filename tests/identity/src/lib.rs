//! A service crate at version 3.4.5. Its configuration comes from `teei_obs::config!()`,
//! which captures this crate's name and version where it expands: nothing here names
//! either.

/// The service's configuration, as a service's `main` would write it.
pub fn service_config() -> Result<teei_obs::Config, teei_obs::InitError> {
    teei_obs::config!()
}
