//! Identity: Doorstep issues its own credentials. Accounts and sessions (`/api/v1/identity/*`),
//! OAuth 2.0 apps (`/oauth/*`), API keys, and the JWKS (`/.well-known/jwks.json`).

mod accounts;
mod api_keys;
mod caller;
mod oauth;
mod state;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

pub use accounts::{
    EMAIL_VERIFICATION_REQUESTED, EVENT_SOURCE, PASSWORD_RESET_REQUESTED, model, passwords, provision, store,
};
pub use state::{IdentitySettings, IdentityState};

/// The function's router, wrapped in the shared conventions.
pub fn router(state: IdentityState) -> Router {
    let (api, _) = api().with_state(state.clone()).split_for_parts();
    shared::http::conventions::apply(api, &state.services)
}

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// Every route of the function, with its documentation.
fn api() -> OpenApiRouter<IdentityState> {
    accounts::routes().merge(oauth::routes())
}
