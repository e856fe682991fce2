//! `GET /.well-known/jwks.json`: the public keys that verify Doorstep access tokens.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use shared::ApiError;

use crate::IdentityState;

/// The JWKS: the current signing key and the previous one, so tokens signed just before a
/// rotation keep verifying until they expire.
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "jwks", tag = "identity", security(()),
    responses((status = 200, description = "JSON Web Key Set (RFC 7517)", content_type = "application/json",
        body = Object)))]
pub async fn jwks(State(state): State<IdentityState>) -> Result<Response, ApiError> {
    // Short caching: verifiers pick up a rotation within minutes.
    let jwks = state.jwks.get().await?.clone();
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], axum::Json(jwks)).into_response())
}
