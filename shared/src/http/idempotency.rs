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

/// The response for a request whose `Idempotency-Key` was used before: the first
/// response again (marked `Idempotent-Replayed: true`) for the same body, a 422 for
/// another body.
pub fn replay(
    first: crate::store::idempotency::IdempotencyRecord,
    fingerprint: &str,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::{HeaderName, StatusCode, header};
    use axum::response::IntoResponse;

    if first.fingerprint != fingerprint {
        return Err(ApiError::Validation {
            message: "Idempotency-Key was already used with a different request".into(),
            details: vec![crate::error::FieldError::new("Idempotency-Key", "was already used with a different body")],
        });
    }
    let data = serde_json::value::RawValue::from_string(first.body).map_err(ApiError::internal)?;
    let status = StatusCode::from_u16(first.status).map_err(ApiError::internal)?;
    let version = serde_json::from_str::<serde_json::Value>(data.get()).ok().and_then(|v| v.get("version")?.as_u64());
    let mut response = crate::http::envelope::ApiResponse::ok(data)
        .with_status(status)
        .with_header(HeaderName::from_static(IDEMPOTENT_REPLAYED_HEADER), "true");
    if let Some(location) = &first.location {
        response = response.with_header(header::LOCATION, location);
    }
    if let Some(version) = version {
        response = response.with_header(header::ETAG, &crate::http::etag::etag(version));
    }
    Ok(response.into_response())
}

/// The first response again (see [`replay`]) if `key` was already used for `scope` in
/// the organization and has not expired; `None` when there is no key or it is new. Read
/// before a create, so that a retry replays instead of tripping over what the first
/// request wrote.
pub async fn replay_if_used(
    store: &crate::store::Store,
    org_id: &str,
    scope: &str,
    key: Option<&str>,
    fingerprint: &str,
    now: time::OffsetDateTime,
) -> Result<Option<axum::response::Response>, ApiError> {
    let Some(key) = key else { return Ok(None) };
    match crate::store::transactions::idempotency_record(store, org_id, scope, key, now).await? {
        Some(first) => replay(first, fingerprint).map(Some),
        None => Ok(None),
    }
}

/// The record a create stores with an `Idempotency-Key`: the 201 it answers with `view`
/// at `location`, for a retry to replay.
pub fn created_record<V: serde::Serialize>(
    fingerprint: &str,
    view: &V,
    location: String,
    now: time::OffsetDateTime,
) -> Result<crate::store::idempotency::IdempotencyRecord, ApiError> {
    let body = serde_json::to_string(view).map_err(ApiError::internal)?;
    Ok(crate::store::idempotency::IdempotencyRecord::new(fingerprint, 201, body, Some(location), now))
}
