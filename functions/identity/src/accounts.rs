//! Accounts and sessions: register, login, refresh, logout, password reset, email
//! verification, MFA; users, roles and permissions; the JWKS.

mod jwks;
pub mod mfa;
pub mod model;
pub mod opaque;
pub mod passwords;
pub mod provision;
mod recovery;
mod roles;
pub mod sessions;
pub mod store;
mod users;
mod views;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::IdentityState;

pub use recovery::{EMAIL_VERIFICATION_REQUESTED, EVENT_SOURCE, PASSWORD_RESET_REQUESTED};

#[derive(OpenApi)]
#[openapi(
    components(schemas(views::MfaChallenge, recovery::EmailVerified, mfa::MfaEnabled)),
    tags((name = "identity", description = "Accounts, sessions, users, roles and the JWKS"))
)]
struct AccountsApi;

/// The accounts routes: each handler's `#[utoipa::path]` gives its method, path and documentation.
pub fn routes() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::with_openapi(AccountsApi::openapi())
        .routes(routes!(sessions::register))
        .routes(routes!(sessions::login))
        .routes(routes!(sessions::refresh))
        .routes(routes!(sessions::logout))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(recovery::verify_email))
        .routes(routes!(mfa::setup))
        .routes(routes!(mfa::verify))
        .routes(routes!(mfa::disable))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::read, users::replace, users::delete))
        .routes(routes!(users::read_roles, users::replace_roles))
        .routes(routes!(roles::list))
        .routes(routes!(roles::read))
        .routes(routes!(roles::permissions_of))
        .routes(routes!(roles::matrix))
        .routes(routes!(jwks::jwks))
}
