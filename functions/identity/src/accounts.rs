//! Accounts and sessions: register, login, refresh, logout, password reset, email
//! verification, MFA; users, roles and permissions; the JWKS.

mod jwks;
mod mfa;
pub mod model;
mod opaque;
pub mod passwords;
pub mod provision;
mod recovery;
mod roles;
mod sessions;
mod store;
mod users;
mod views;

use axum::Router;
use axum::routing::{get, post};
use utoipa::OpenApi;

use crate::IdentityState;

pub use recovery::{EMAIL_VERIFICATION_REQUESTED, EVENT_SOURCE, PASSWORD_RESET_REQUESTED};

pub fn routes() -> Router<IdentityState> {
    Router::new()
        .route("/api/v1/identity/register", post(sessions::register))
        .route("/api/v1/identity/login", post(sessions::login))
        .route("/api/v1/identity/refresh", post(sessions::refresh))
        .route("/api/v1/identity/logout", post(sessions::logout))
        .route("/api/v1/identity/forgot-password", post(recovery::forgot_password))
        .route("/api/v1/identity/reset-password", post(recovery::reset_password))
        .route("/api/v1/identity/verify-email", post(recovery::verify_email))
        .route("/api/v1/identity/mfa/setup", post(mfa::setup))
        .route("/api/v1/identity/mfa/verify", post(mfa::verify))
        .route("/api/v1/identity/users", get(users::list).post(users::create))
        .route("/api/v1/identity/users/{id}", get(users::read).put(users::replace).delete(users::delete))
        .route("/api/v1/identity/users/{id}/roles", get(users::read_roles).put(users::replace_roles))
        .route("/api/v1/identity/roles", get(roles::list))
        .route("/api/v1/identity/roles/{id}", get(roles::read))
        .route("/api/v1/identity/roles/{id}/permissions", get(roles::permissions_of))
        .route("/api/v1/identity/permissions", get(roles::matrix))
        .route("/.well-known/jwks.json", get(jwks::jwks))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        sessions::register, sessions::login, sessions::refresh, sessions::logout,
        recovery::forgot_password, recovery::reset_password, recovery::verify_email,
        mfa::setup, mfa::verify,
        users::list, users::create, users::read, users::replace, users::delete, users::read_roles, users::replace_roles,
        roles::list, roles::read, roles::permissions_of, roles::matrix,
        jwks::jwks,
    ),
    components(schemas(views::MfaChallenge, recovery::EmailVerified, mfa::MfaEnabled)),
    tags((name = "identity", description = "Accounts, sessions, users, roles and the JWKS"))
)]
struct AccountsApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    AccountsApi::openapi()
}
