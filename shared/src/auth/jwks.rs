//! The verifier's public keys, kept current across key rotation: when a token names a
//! `kid` the keys don't hold, the JWKS secret is read again (at most once a minute), so a
//! new signing key is accepted by warm functions without waiting for a cold start.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;

use crate::auth::jwt::{Claims, JwtVerifier};
use crate::error::ApiError;
use crate::secrets;

/// The shortest time between two reads of the JWKS secret, so that tokens with made-up
/// `kid`s cannot turn into a flood of Secrets Manager calls.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Source {
    secrets: Client,
    secret_id: String,
    audience: String,
    issuer: String,
}

/// Verifies access tokens with the current key set.
#[derive(Debug)]
pub struct Jwks {
    current: RwLock<Arc<JwtVerifier>>,
    source: Option<Source>,
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl Jwks {
    /// Keys that never change (tests, tools).
    pub fn fixed(verifier: JwtVerifier) -> Self {
        Self { current: RwLock::new(Arc::new(verifier)), source: None, last_refresh: Default::default() }
    }

    /// Keys loaded from the JWKS secret `secret_id`, re-read on an unknown `kid`.
    pub fn refreshing(verifier: JwtVerifier, secrets: Client, secret_id: &str, audience: &str, issuer: &str) -> Self {
        let source = Source {
            secrets,
            secret_id: secret_id.to_owned(),
            audience: audience.to_owned(),
            issuer: issuer.to_owned(),
        };
        Self { current: RwLock::new(Arc::new(verifier)), source: Some(source), last_refresh: Default::default() }
    }

    fn verifier(&self) -> Arc<JwtVerifier> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Verifies a token, reloading the keys first if it names one they don't hold.
    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut verifier = self.verifier();
        let unknown =
            jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid).is_some_and(|kid| !verifier.knows(&kid));
        if unknown && self.refresh().await {
            verifier = self.verifier();
        }
        verifier.verify(token)
    }

    /// Re-reads the JWKS secret unless that happened less than [`REFRESH_INTERVAL`] ago.
    /// Whether the keys were replaced.
    async fn refresh(&self) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        let mut last = self.last_refresh.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        let loaded =
            secrets::read_string(&source.secrets, &source.secret_id).await.map_err(|e| e.to_string()).and_then(
                |jwks| JwtVerifier::from_jwks(&jwks, &source.audience, &source.issuer).map_err(|e| e.to_string()),
            );
        match loaded {
            Ok(verifier) => {
                tracing::info!(kids = ?verifier, "reloaded the JWKS after a token named an unknown kid");
                *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(verifier);
                true
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot reload the JWKS; keeping the current keys");
                false
            }
        }
    }
}
