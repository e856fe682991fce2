//! The identity function's state: the shared services plus the token signing key.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use shared::Services;
use shared::auth::jwt::{JwtSigner, SigningKeySecret};
use shared::secrets::{self, OnFirstUse, SecretError};

/// Default lifetime of access tokens (short-lived, refreshed with a refresh token).
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum IdentityStartupError {
    #[error("environment variable {0} is required and must not be empty")]
    MissingVar(&'static str),
    #[error("{0} must be a whole number of seconds")]
    InvalidVar(&'static str),
}

/// Settings only identity reads.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// `JWT_SIGNING_KEY_SECRET_ID`: `{"kid", "private_key_pem"}` of the current signing key.
    pub signing_key_secret_id: String,
    /// `ACCESS_TOKEN_TTL_SECONDS` (default 900).
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECONDS` (default 30 days): the absolute lifetime of a session.
    pub refresh_token_ttl: Duration,
    /// `LOGIN_MAX_FAILURES` (default 5): consecutive wrong passwords that lock an account.
    pub max_failed_logins: u32,
    /// `LOGIN_LOCKOUT_SECONDS` (default 900): how long a locked account stays locked.
    pub lockout: Duration,
    /// `LOGIN_IP_MAX_FAILURES` (default 20): failed sign-ins per source IP per window.
    pub ip_max_failures: u32,
    /// `LOGIN_IP_WINDOW_SECONDS` (default 900).
    pub ip_window: Duration,
}

/// Reads a whole number from the environment, or the default when unset.
fn number_var(name: &'static str, default: u64) -> Result<u64, IdentityStartupError> {
    match std::env::var(name) {
        Ok(raw) if !raw.trim().is_empty() => {
            raw.trim().parse::<u64>().ok().filter(|v| *v > 0).ok_or(IdentityStartupError::InvalidVar(name))
        }
        _ => Ok(default),
    }
}

fn small_var(name: &'static str, default: u32) -> Result<u32, IdentityStartupError> {
    u32::try_from(number_var(name, u64::from(default))?).map_err(|_| IdentityStartupError::InvalidVar(name))
}

impl IdentitySettings {
    /// [`Self::lockout`] in whole seconds.
    pub fn lockout_seconds(&self) -> i64 {
        i64::try_from(self.lockout.as_secs()).unwrap_or(i64::MAX / 2)
    }

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
        Ok(Self {
            signing_key_secret_id,
            access_token_ttl,
            refresh_token_ttl: Duration::from_secs(number_var("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)?),
            max_failed_logins: small_var("LOGIN_MAX_FAILURES", 5)?,
            lockout: Duration::from_secs(number_var("LOGIN_LOCKOUT_SECONDS", 15 * 60)?),
            ip_max_failures: small_var("LOGIN_IP_MAX_FAILURES", 20)?,
            ip_window: Duration::from_secs(number_var("LOGIN_IP_WINDOW_SECONDS", 15 * 60)?),
        })
    }
}

/// Router state of the identity function. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IdentityState {
    pub services: Services,
    /// The token signing key, read by the first request that signs.
    pub signer: OnFirstUse<JwtSigner>,
    pub settings: Arc<IdentitySettings>,
    /// The published JWKS (current and previous public keys), read by the first request
    /// for it.
    pub jwks: OnFirstUse<serde_json::Value>,
}

impl IdentityState {
    /// Reads identity's settings; its keys are read on first use, once per instance.
    pub async fn load(services: Services) -> Result<Self, IdentityStartupError> {
        let settings = IdentitySettings::from_env()?;
        let secrets = &services.aws.secrets;
        let signer = OnFirstUse::new(secrets, &settings.signing_key_secret_id, |raw, id| {
            JwtSigner::new(&secrets::json::<SigningKeySecret>(&raw, id)?)
                .map_err(|_| SecretError::Shape { id: id.to_owned() })
        });
        let jwks =
            OnFirstUse::new(secrets, &services.config.jwt_public_keys_secret_id, |raw, id| secrets::json(&raw, id));
        Ok(Self { services, signer, settings: Arc::new(settings), jwks })
    }
}

impl FromRef<IdentityState> for Services {
    fn from_ref(state: &IdentityState) -> Services {
        state.services.clone()
    }
}
