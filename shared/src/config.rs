//! Settings read once from the environment at cold start.

use crate::auth::jwt::DEFAULT_AUDIENCE;

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
    /// `EVENT_BUS_NAME`: the EventBridge bus domain events go to.
    pub event_bus_name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is required and must not be empty")]
pub struct MissingVar(pub &'static str);

fn required(name: &'static str) -> Result<String, MissingVar> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or(MissingVar(name))
}

fn optional(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

impl Config {
    pub fn from_env() -> Result<Self, MissingVar> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            jwt_public_keys_secret_id: required("JWT_PUBLIC_KEYS_SECRET_ID")?,
            cursor_secret_id: required("CURSOR_SECRET_ID")?,
            jwt_audience: optional("JWT_AUDIENCE", DEFAULT_AUDIENCE),
            jwt_issuer: optional("JWT_ISSUER", DEFAULT_ISSUER),
            event_bus_name: required("EVENT_BUS_NAME")?,
        })
    }
}
