//! Tenants: `/api/v1/properties/{property_id}/tenants[/{tenant_id}]` and the
//! integration API routes `/api/ai/renters` and `/api/ai/renters/overdue`.

mod integration;
mod refusals;
pub mod requests;
mod routes;
pub mod views;

use axum::Router;
use shared::Services;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(tags((name = "tenants", description = "The people who rent a property's units")))]
struct TenantsApi;

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::with_openapi(TenantsApi::openapi())
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::read, routes::replace, routes::patch, routes::delete))
        .routes(routes!(integration::renters))
        .routes(routes!(integration::overdue_renters))
}

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405).
pub fn router(services: Services) -> Router {
    let (api, _) = api().with_state(services.clone()).split_for_parts();
    shared::http::conventions::apply(api, &services)
}

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
