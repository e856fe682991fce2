//! Stream tokens: a browser's `EventSource` cannot send `Authorization`, so an
//! authenticated call mints a token that opens the event stream of its organization, and
//! nothing else, for ten minutes. It travels in the URL
//! (`/api/v1/events?stream_token=dse_...`), so it is short-lived, read-only, and only its
//! SHA-256 is stored.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::auth::{Actor, Permission, Principal};
use shared::http::body::hex;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::store::events::StreamToken;
use shared::{ApiError, Services, time_format};
use utoipa::ToSchema;

use crate::EventsState;

/// How long a token opens (and reopens) streams.
const LIFETIME: time::Duration = time::Duration::minutes(10);

/// A minted stream token.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTokenView {
    /// Shown once.
    pub token: String,
    pub expires_at: String,
    /// The path and query a browser opens on the stream endpoint.
    #[schema(example = "/api/v1/events?stream_token=dse_01JD3M00000000000000000001_...")]
    pub url: String,
}

fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Mint a stream token for `EventSource`.
#[utoipa::path(post, path = "/api/v1/events/stream-tokens", operation_id = "createEventStreamToken", tag = "events",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "A token that opens this organization's event stream for ten minutes", body = SuccessEnvelope<StreamTokenView>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks event:read", body = ErrorEnvelope),
    ))]
pub async fn mint(State(state): State<EventsState>, principal: Principal) -> Result<Response, ApiError> {
    principal.authorize(Permission::EventRead, None)?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| ApiError::internal(e.to_string()))?;
    let token = format!("dse_{}_{}", principal.org_id, URL_SAFE_NO_PAD.encode(secret));
    let expires = time_format::now() + LIFETIME;
    let minted_by = match &principal.actor {
        Actor::User { user_id, .. } => format!("user:{user_id}"),
        Actor::ApiKey { key_id } => format!("key:{key_id}"),
    };
    let record =
        StreamToken { organization_id: principal.org_id.clone(), minted_by, expires_at: expires.unix_timestamp() };
    state.services.store.event_log().put_stream_token(&digest(&token), &record).await?;
    let url = format!("/api/v1/events?stream_token={token}");
    let view = StreamTokenView { token, expires_at: time_format::format(expires), url: url.clone() };
    Ok(ApiResponse::created(view, &url).into_response())
}

/// The organization a stream token opens; 401 for anything else.
pub async fn verify(services: &Services, token: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::AuthenticationFailed("The stream token is invalid or expired");
    // `dse_<org id>_<secret>`; both the id (`org_<ULID>`) and the base64url secret may
    // hold underscores, but the id has a fixed length.
    let rest = token.strip_prefix("dse_").ok_or_else(invalid)?;
    let (org_id, secret) = (rest.get(..30).ok_or_else(invalid)?, rest.get(31..).ok_or_else(invalid)?);
    if !rest[30..].starts_with('_') || secret.len() != 43 || !shared::domain::ids::is_valid(org_id, "org") {
        return Err(invalid());
    }
    let now = time_format::now().unix_timestamp();
    services.store.event_log().stream_token(org_id, &digest(token), now).await?.ok_or_else(invalid)?;
    Ok(org_id.to_owned())
}
