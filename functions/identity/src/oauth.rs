//! OAuth 2.0 for third-party apps (seed 000) and API keys for services: app registration,
//! `/oauth/authorize`, `/oauth/token`, authorized apps, and `/api/v1/identity/api-keys`.

mod apps;
mod authorizations;
mod authorize;
pub mod credentials;
mod redirect;
mod repository;
pub mod scopes;
mod token;

use axum::Router;
use axum::routing::{delete, get, post};
use utoipa::OpenApi;

use crate::{IdentityState, api_keys};

pub fn routes() -> Router<IdentityState> {
    Router::new()
        .route("/api/v1/identity/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api/v1/identity/api-keys/{id}", get(api_keys::read).delete(api_keys::revoke))
        .route("/api/v1/identity/oauth/apps", get(apps::list).post(apps::create))
        .route("/api/v1/identity/oauth/apps/{client_id}", get(apps::read).delete(apps::delete))
        .route("/api/v1/identity/oauth/authorizations", get(authorizations::list))
        .route("/api/v1/identity/oauth/authorizations/{client_id}", delete(authorizations::revoke))
        .route("/oauth/authorize", get(authorize::authorize))
        .route("/oauth/token", post(token::token))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        api_keys::create, api_keys::list, api_keys::read, api_keys::revoke,
        apps::create, apps::list, apps::read, apps::delete,
        authorize::authorize, token::token,
        authorizations::list, authorizations::revoke,
    ),
    tags(
        (name = "api-keys", description = "Keys for service-to-service calls (`X-API-Key`), bound to an organization and permissions"),
        (name = "oauth", description = "OAuth 2.0 for third-party apps: registration, authorization code with PKCE, tokens, and the apps a user authorized"),
    )
)]
struct OAuthApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    OAuthApi::openapi()
}
