//! `POST /webhooks/smartmove`: SmartMove's status postbacks for screening orders.
//!
//! Each order carries its own postback credentials (the password stored only as a
//! digest) and our screening id as `referenceId`; `customerReferenceId` is the
//! organization. A postback is authenticated against its order's credentials, then
//! recorded once (the history keeps every distinct postback) and the status moves only
//! forward, with `screening.status_changed` in the same transaction.

mod routes;

use axum::Router;
use shared::Services;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    tags((name = "screening", description = "Credit, criminal and eviction screenings of applicants through SmartMove")),
    modifiers(&PostbackCredentials)
)]
struct PostbackApi;

/// The `smartmove_postback` security scheme: the order's own credentials in `Authorization`.
struct PostbackCredentials;

impl utoipa::Modify for PostbackCredentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "smartmove_postback",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The order's postback credentials: `base64(username):base64(password)` as SmartMove sends them, or `Basic base64(username:password)`",
            ))),
        );
    }
}

fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::with_openapi(PostbackApi::openapi()).routes(routes!(routes::receive))
}

/// The function's router, wrapped in the shared conventions (request ids, 404/405).
pub fn router(services: Services) -> Router {
    let (api, _) = api().with_state(services.clone()).split_for_parts();
    shared::http::conventions::apply(api, &services)
}

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
