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

/// The OAuth and API-key routes: each handler's `#[utoipa::path]` gives its method, path and documentation.
pub fn routes() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::with_openapi(OAuthApi::openapi())
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::read, api_keys::revoke))
        .routes(routes!(apps::list, apps::create))
        .routes(routes!(apps::read, apps::delete))
        .routes(routes!(authorizations::list))
        .routes(routes!(authorizations::revoke))
        .routes(routes!(authorize::authorize, hosted::submit))
        .routes(routes!(token::token))
}
