//! OAuth 2.0 for third-party apps (the integration API) and API keys for services: app registration,
//! `/oauth/authorize`, `/oauth/token`, authorized apps, and `/api/v1/identity/api-keys`.

mod apps;
mod authorizations;
mod authorize;
pub mod credentials;
mod hosted;
mod redirect;
mod repository;
pub mod scopes;
mod token;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{IdentityState, api_keys};

#[derive(OpenApi)]
#[openapi(tags(
    (name = "api-keys", description = "Keys for service-to-service calls (`X-API-Key`), bound to an organization and permissions"),
    (name = "oauth", description = "OAuth 2.0 for third-party apps: registration, authorization code with PKCE, tokens, and the apps a user authorized"),
))]
struct OAuthApi;

/// Ends every OAuth grant `user_id` gave: their apps' refresh tokens and unexchanged
/// codes stop working. Called when the user is deleted, disabled or demoted, or resets
/// their password.
pub async fn end_user_grants(
    store: &shared::store::Store,
    org_id: &str,
    user_id: &str,
) -> Result<(), shared::ApiError> {
    let ended = repository::OAuthRepository::new(store).revoke_user_grants(org_id, user_id).await?;
    if ended > 0 {
        tracing::info!(user_id = %user_id, grants = ended, "the user's OAuth grants are ended");
    }
    Ok(())
}

/// The OAuth and API-key routes: each handler's `#[utoipa::path]` gives its method, path and documentation.
pub fn routes() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::with_openapi(OAuthApi::openapi())
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::read, api_keys::revoke))
        .routes(routes!(apps::list, apps::create))
        .routes(routes!(apps::read, apps::delete))
        .routes(routes!(authorizations::list))
        .routes(routes!(authorizations::revoke))
        .routes(routes!(authorizations::list_organization))
        .routes(routes!(authorizations::revoke_organization))
        .routes(routes!(authorize::authorize, hosted::submit))
        .routes(routes!(token::token))
}
