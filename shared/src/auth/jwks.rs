//! The verifier's public keys, kept current across key rotation: when a token names a
//! `kid` the keys don't hold, the JWKS secret is read again (at most once a minute), so a
//! new signing key is accepted by warm functions without waiting for a cold start. Keys
//! older than [`MAX_KEY_AGE`] are re-read on the next use as well, so a key withdrawn
//! from the JWKS (a compromised one) stops verifying on warm functions within minutes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_sdk_secretsmanager::Client;

use crate::auth::jwt::{Claims, JwtVerifier};
use crate::error::ApiError;
use crate::rate_limit::Clock;
use crate::secrets;

/// The shortest time between two reads of the JWKS secret, so that tokens with made-up
/// `kid`s cannot turn into a flood of Secrets Manager calls.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// How long a key set is trusted before the next verification re-reads it (checked on
/// use, so an idle function costs no reads).
pub const MAX_KEY_AGE: Duration = Duration::from_secs(5 * 60);

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
    /// `None` until the first verification reads the keys ([`Jwks::on_first_use`]).
    current: RwLock<Option<Arc<JwtVerifier>>>,
    source: Option<Source>,
    clock: Clock,
    /// Unix seconds when the current keys were read.
    loaded_at: AtomicI64,
    /// Unix seconds of the last attempt to read them.
    last_refresh: tokio::sync::Mutex<Option<i64>>,
}

impl Jwks {
    fn new(verifier: Option<JwtVerifier>, source: Option<Source>) -> Self {
        let clock = Clock::System;
        Self {
            current: RwLock::new(verifier.map(Arc::new)),
            source,
            loaded_at: AtomicI64::new(clock.now()),
            clock,
            last_refresh: Default::default(),
        }
    }

    /// Keys that never change (tests, tools).
    pub fn fixed(verifier: JwtVerifier) -> Self {
        Self::new(Some(verifier), None)
    }

    /// Keys loaded from the JWKS secret `secret_id`, re-read on an unknown `kid`.
    pub fn refreshing(verifier: JwtVerifier, secrets: Client, secret_id: &str, audience: &str, issuer: &str) -> Self {
        Self::new(Some(verifier), Some(Source::new(secrets, secret_id, audience, issuer)))
    }

    /// Keys read from the JWKS secret `secret_id` by the first verification (not at
    /// init), then kept current as [`Jwks::refreshing`] keeps them.
    pub fn on_first_use(secrets: Client, secret_id: &str, audience: &str, issuer: &str) -> Self {
        Self::new(None, Some(Source::new(secrets, secret_id, audience, issuer)))
    }

    /// Reads the time from `clock` (a hand-set one in tests); the current keys count as
    /// read now.
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { loaded_at: AtomicI64::new(clock.now()), clock, ..self }
    }

    fn verifier(&self) -> Option<Arc<JwtVerifier>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn install(&self, verifier: JwtVerifier, now: i64) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(verifier));
        self.loaded_at.store(now, Ordering::SeqCst);
    }

    /// The keys, reading them if no verification has yet: one read at a time, and a read
    /// that fails is a 503 for this request and tried again by the next.
    pub async fn ready(&self) -> Result<Arc<JwtVerifier>, ApiError> {
        if let Some(verifier) = self.verifier() {
            return Ok(verifier);
        }
        let _one_reader = self.last_refresh.lock().await;
        if let Some(verifier) = self.verifier() {
            return Ok(verifier);
        }
        let source = self.source.as_ref().ok_or_else(|| ApiError::internal("a key set without keys or a source"))?;
        let verifier = source.read().await.map_err(|error| {
            tracing::error!(error = %error, "cannot read the JWKS");
            ApiError::ServiceUnavailable(error.into())
        })?;
        self.install(verifier, self.clock.now());
        self.verifier().ok_or_else(|| ApiError::internal("keys just installed"))
    }

    /// Verifies a token, reloading the keys first if it names one they don't hold or they
    /// are older than [`MAX_KEY_AGE`].
    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let verifier = self.ready().await?;
        let unknown =
            jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid).is_some_and(|kid| !verifier.knows(&kid));
        let now = self.clock.now();
        let stale = now.saturating_sub(self.loaded_at.load(Ordering::SeqCst)) >= seconds(MAX_KEY_AGE);
        if !(unknown || stale) {
            return verifier.verify(token);
        }
        self.refresh(now, if unknown { "a token named an unknown kid" } else { "the keys were due a re-read" }).await;
        // Another request may have replaced the keys while this one waited for the lock.
        self.verifier().unwrap_or(verifier).verify(token)
    }

    /// Re-reads the JWKS secret unless that was tried less than [`REFRESH_INTERVAL`] ago.
    async fn refresh(&self, now: i64, reason: &str) {
        let Some(source) = &self.source else {
            return;
        };
        let mut last = self.last_refresh.lock().await;
        if last.is_some_and(|at| now.saturating_sub(at) < seconds(REFRESH_INTERVAL)) {
            return;
        }
        *last = Some(now);
        match source.read().await {
            Ok(verifier) => {
                tracing::info!(kids = ?verifier, reason, "reloaded the JWKS");
                self.install(verifier, now);
            }
            Err(error) => {
                tracing::error!(error = %error, reason, "cannot reload the JWKS; keeping the current keys");
            }
        }
    }
}

impl Source {
    fn new(secrets: Client, secret_id: &str, audience: &str, issuer: &str) -> Self {
        Self { secrets, secret_id: secret_id.to_owned(), audience: audience.to_owned(), issuer: issuer.to_owned() }
    }

    async fn read(&self) -> Result<JwtVerifier, String> {
        let jwks = secrets::read_string(&self.secrets, &self.secret_id).await.map_err(|e| e.to_string())?;
        JwtVerifier::from_jwks(&jwks, &self.audience, &self.issuer).map_err(|e| e.to_string())
    }
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
