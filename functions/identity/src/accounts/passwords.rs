//! Password hashing with Argon2id.
//!
//! Parameters are OWASP's minimum for Argon2id (m = 19 MiB, t = 2, p = 1): about
//! 20-40 ms per hash on one Lambda vCPU, which keeps login latency low while making
//! offline guessing expensive. The parameters are stored in every PHC string, so they
//! can be raised later without invalidating existing hashes.

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

/// A hash of a password nobody knows, with the same parameters as every new hash,
/// verified in place of a real one when the email is unknown, so that the response time
/// does not reveal whether an account exists. A constant rather than computed at a cold
/// start: verifying costs the same whatever the salt, and the unit test below keeps it in
/// step with the parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$WlpaWlpaWlpaWlpaWlpaWg$AsCRA9VK4UBtgz6evi47ZGhmJGGXe7ql2JVy4A7nbtg";

/// Verifies a password against a stored hash, or against the dummy hash when there is
/// none. Either way the same work is done; only a real hash can match.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let matches = hasher()?.verify_password(password.as_bytes(), hash.as_str()).is_ok();
        Ok(real && matches)
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_has_the_current_parameters() {
        let salt = [0x5au8; 16];
        let fresh = hasher().unwrap().hash_password_with_salt(b"doorstep-no-such-account", &salt).unwrap();
        assert_eq!(fresh.to_string(), DUMMY_HASH);
    }

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let hash = hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(hash)).await.unwrap());
        assert!(!verify("doorstep-no-such-account".into(), None).await.unwrap());
    }
}
