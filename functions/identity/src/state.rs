//! The identity function's state: the shared services plus the token signing key.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use shared::Services;
use shared::auth::jwt::{JwtSigner, KeyError, SigningKeySecret};
use shared::secrets::{self, SecretError};

/// Default lifetime of access tokens (seed 001: short-lived, refreshed with a refresh token).
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum IdentityStartupError {
    #[error("environment variable {0} is required and must not be empty")]
    MissingVar(&'static str),
    #[error("{0} must be a whole number of seconds")]
    InvalidVar(&'static str),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("JWT signing key: {0}")]
    Key(#[from] KeyError),
}

/// Settings only identity reads.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// `JWT_SIGNING_KEY_SECRET_ID`: `{"kid", "private_key_pem"}` of the current signing key.
    pub signing_key_secret_id: String,
    /// `ACCESS_TOKEN_TTL_SECONDS` (default 900).
    pub access_token_ttl: Duration,
}

impl IdentitySettings {
    pub fn from_env() -> Result<Self, IdentityStartupError> {
        let signing_key_secret_id = std::env::var("JWT_SIGNING_KEY_SECRET_ID")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or(IdentityStartupError::MissingVar("JWT_SIGNING_KEY_SECRET_ID"))?;
        let access_token_ttl = match std::env::var("ACCESS_TOKEN_TTL_SECONDS") {
            Ok(raw) if !raw.trim().is_empty() => Duration::from_secs(
                raw.trim().parse().map_err(|_| IdentityStartupError::InvalidVar("ACCESS_TOKEN_TTL_SECONDS"))?,
            ),
            _ => DEFAULT_ACCESS_TOKEN_TTL,
        };
        Ok(Self { signing_key_secret_id, access_token_ttl })
    }
}

/// Router state of the identity function. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IdentityState {
    pub services: Services,
    pub signer: Arc<JwtSigner>,
    pub settings: Arc<IdentitySettings>,
}

impl IdentityState {
    /// Reads identity's settings and its signing key, once per cold start.
    pub async fn load(services: Services) -> Result<Self, IdentityStartupError> {
        let settings = IdentitySettings::from_env()?;
        let key: SigningKeySecret = secrets::read_json(&services.aws.secrets, &settings.signing_key_secret_id).await?;
        let signer = JwtSigner::new(&key)?;
        Ok(Self { services, signer: Arc::new(signer), settings: Arc::new(settings) })
    }
}

impl FromRef<IdentityState> for Services {
    fn from_ref(state: &IdentityState) -> Services {
        state.services.clone()
    }
}
