//! The `Idempotency-Key` request header.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Set on a response that replays the one first given for the same key.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";

/// The optional `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY_HEADER) else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
        key.map(|k| Self(Some(k.to_owned())))
            .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()))
    }
}
