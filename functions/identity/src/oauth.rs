//! OAuth 2.0 for third-party apps (seed 000) and API keys for services: app registration,
//! `/oauth/authorize`, `/oauth/token`, authorized apps, and `/api/v1/identity/api-keys`.

use axum::Router;
use utoipa::OpenApi;

use crate::IdentityState;

pub fn routes() -> Router<IdentityState> {
    Router::new()
}

#[derive(OpenApi)]
#[openapi()]
struct OAuthApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    OAuthApi::openapi()
}
