//! Everything a function needs, built once per cold start.

use crate::auth::Authenticator;
use crate::auth::jwks::Jwks;
use crate::aws::AwsClients;
use crate::config::Config;
use crate::events::EventPublisher;
use crate::http::pagination::CursorCodec;
use crate::rate_limit::{Clock, RateLimiter};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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
    /// Reads the environment and builds the clients. The two secrets (the JWT public
    /// keys and the cursor key) are read by the first request, both at once
    /// ([`Services::ready`]): nothing here waits on the network, so a cold start reaches
    /// the Runtime API's first `/next` as soon as the process is up.
    pub async fn load() -> Result<Self, StartupError> {
        let config = Config::from_env()?;
        let aws = AwsClients::load().await;
        let store = Store::new(aws.dynamodb.clone(), &config.table_name);
        Ok(Self {
            authenticator: Authenticator::new(
                Jwks::on_first_use(
                    aws.secrets.clone(),
                    &config.jwt_public_keys_secret_id,
                    &config.jwt_audience,
                    &config.jwt_issuer,
                ),
                store.clone(),
            ),
            cursors: CursorCodec::on_first_use(&aws.secrets, &config.cursor_secret_id),
            rate_limiter: RateLimiter::new(store.clone(), config.rate_limits.clone(), Clock::System),
            events: EventPublisher::new(aws.events.clone(), &config.event_bus_name),
            store,
            aws,
            config,
        })
    }

    /// Reads the secrets every request may need, once per instance and concurrently; a
    /// no-op once they are in. `conventions::apply` awaits it before any handler runs.
    pub async fn ready(&self) -> Result<(), crate::ApiError> {
        tokio::try_join!(self.authenticator.ready(), self.cursors.ready()).map(|_| ())
    }
}
