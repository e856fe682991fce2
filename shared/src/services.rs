//! Everything a function needs, built once per cold start.

use serde::Deserialize;

use crate::auth::Authenticator;
use crate::auth::jwks::Jwks;
use crate::auth::jwt::JwtVerifier;
use crate::aws::AwsClients;
use crate::config::Config;
use crate::events::EventPublisher;
use crate::http::pagination::CursorCodec;
use crate::rate_limit::{Clock, RateLimiter};
use crate::secrets;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error("JWT public keys: {0}")]
    Keys(#[from] crate::auth::jwt::KeyError),
    #[error("secret {0} must hold an hmac_key of at least 32 characters")]
    WeakCursorKey(String),
}

#[derive(Deserialize)]
struct CursorKeySecret {
    hmac_key: String,
}

/// Config, clients, verified keys and codecs. Cheap to clone (everything inside is
/// reference-counted), so it doubles as the axum router state.
#[derive(Debug, Clone)]
pub struct Services {
    pub config: Config,
    pub aws: AwsClients,
    pub store: Store,
    pub authenticator: Authenticator,
    pub cursors: CursorCodec,
    /// Replaceable after `load` (tests set their own limits and clock).
    pub rate_limiter: RateLimiter,
    /// Publishes domain events to `EVENT_BUS_NAME`.
    pub events: EventPublisher,
}

impl Services {
    /// Reads the environment and both secrets (concurrently) and builds the clients.
    pub async fn load() -> Result<Self, StartupError> {
        let config = Config::from_env()?;
        let aws = AwsClients::load().await;
        let (jwks, cursor) = tokio::join!(
            secrets::read_string(&aws.secrets, &config.jwt_public_keys_secret_id),
            secrets::read_json::<CursorKeySecret>(&aws.secrets, &config.cursor_secret_id),
        );
        let verifier = JwtVerifier::from_jwks(&jwks?, &config.jwt_audience, &config.jwt_issuer)?;
        let cursor = cursor?;
        if cursor.hmac_key.len() < 32 {
            return Err(StartupError::WeakCursorKey(config.cursor_secret_id.clone()));
        }
        let store = Store::new(aws.dynamodb.clone(), &config.table_name);
        Ok(Self {
            authenticator: Authenticator::new(
                Jwks::refreshing(
                    verifier,
                    aws.secrets.clone(),
                    &config.jwt_public_keys_secret_id,
                    &config.jwt_audience,
                    &config.jwt_issuer,
                ),
                store.clone(),
            ),
            cursors: CursorCodec::new(cursor.hmac_key.as_bytes()),
            rate_limiter: RateLimiter::new(store.clone(), config.rate_limits.clone(), Clock::System),
            events: EventPublisher::new(aws.events.clone(), &config.event_bus_name),
            store,
            aws,
            config,
        })
    }
}
