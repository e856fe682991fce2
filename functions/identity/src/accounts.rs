//! Accounts and sessions: register, login, refresh, logout, password reset, email
//! verification, MFA; users, roles and permissions; the JWKS.

use axum::Router;
use utoipa::OpenApi;

use crate::IdentityState;

pub fn routes() -> Router<IdentityState> {
    Router::new()
}

#[derive(OpenApi)]
#[openapi()]
struct AccountsApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    AccountsApi::openapi()
}
