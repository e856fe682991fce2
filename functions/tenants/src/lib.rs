//! Tenants: `/api/v1/properties/{property_id}/tenants[/{tenant_id}]` and the seed 000
//! integration route `/api/ai/renters`.

mod integration;
mod refusals;
pub mod requests;
mod routes;
pub mod views;

use axum::Router;
use axum::routing::get;
use shared::Services;
use utoipa::OpenApi;

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405).
pub fn router(services: Services) -> Router {
    let api = Router::new()
        .route("/api/v1/properties/{property_id}/tenants", get(routes::list).post(routes::create))
        .route(
            "/api/v1/properties/{property_id}/tenants/{tenant_id}",
            get(routes::read).put(routes::replace).patch(routes::patch).delete(routes::delete),
        )
        .route("/api/ai/renters", get(integration::renters))
        .with_state(services.clone());
    shared::http::conventions::apply(api, &services)
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::list, routes::create, routes::read, routes::replace, routes::patch, routes::delete, integration::renters),
    tags((name = "tenants", description = "The people who rent a property's units"))
)]
struct TenantsApi;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    TenantsApi::openapi()
}
