//! Password hashing with Argon2id.
//!
//! Parameters are OWASP's minimum for Argon2id (m = 19 MiB, t = 2, p = 1): about
//! 20-40 ms per hash on one Lambda vCPU, which keeps login latency low while making
//! offline guessing expensive. The parameters are stored in every PHC string, so they
//! can be raised later without invalidating existing hashes.

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use shared::ApiError;

/// Memory cost in KiB.
pub const M_COST_KIB: u32 = 19 * 1024;
/// Iterations.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;

fn hasher() -> Result<Argon2<'static>, ApiError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password to a PHC string. CPU-bound: runs on the blocking pool.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let hash = hasher()?.hash_password(password.as_bytes()).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(hash.to_string())
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash of a password nobody knows, verified in place of a real one when the email is
/// unknown, so that the response time does not reveal whether an account exists.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = [0x5au8; 16];
        hasher()
            .ok()
            .and_then(|h| h.hash_password_with_salt(b"doorstep-no-such-account", &salt).ok())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Verifies a password against a stored hash, or against the dummy hash when there is
/// none. Either way the same work is done; only a real hash can match.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let matches = hasher()?.verify_password(password.as_bytes(), hash.as_str()).is_ok();
        Ok(real && matches)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Computes the dummy hash ahead of the first login (at cold start).
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let hash = hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(hash)).await.unwrap());
        assert!(!verify("doorstep-no-such-account".into(), None).await.unwrap());
    }
}
