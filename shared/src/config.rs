//! Settings read once from the environment at cold start.

use crate::auth::jwt::DEFAULT_AUDIENCE;
use crate::rate_limit::{InvalidRateLimits, RateLimits};

/// The default `iss` of Doorstep access tokens.
pub const DEFAULT_ISSUER: &str = "doorstep";

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    /// `JWT_PUBLIC_KEYS_SECRET_ID`: Secrets Manager id of the JWKS used to verify tokens.
    pub jwt_public_keys_secret_id: String,
    /// `CURSOR_SECRET_ID`: Secrets Manager id of `{"hmac_key": "..."}` for pagination cursors.
    pub cursor_secret_id: String,
    /// `JWT_AUDIENCE` (default `PropertyManagement`).
    pub jwt_audience: String,
    /// `JWT_ISSUER` (default `doorstep`).
    pub jwt_issuer: String,
    /// `RATE_LIMITS`, e.g. `standard=100/60,premium=500/60,enterprise=2000/60,anonymous=60/60`
    /// (requests per window seconds; tiers left out keep these defaults).
    pub rate_limits: RateLimits,
    /// `EVENT_BUS_NAME`: the EventBridge bus domain events go to.
    pub event_bus_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required and must not be empty")]
    Missing(&'static str),
    #[error(transparent)]
    RateLimits(#[from] InvalidRateLimits),
}

/// A variable that must be set and not blank.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name))
}

fn optional(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            jwt_public_keys_secret_id: required("JWT_PUBLIC_KEYS_SECRET_ID")?,
            cursor_secret_id: required("CURSOR_SECRET_ID")?,
            jwt_audience: optional("JWT_AUDIENCE", DEFAULT_AUDIENCE),
            jwt_issuer: optional("JWT_ISSUER", DEFAULT_ISSUER),
            rate_limits: RateLimits::parse(&optional("RATE_LIMITS", ""))?,
            event_bus_name: required("EVENT_BUS_NAME")?,
        })
    }
}
