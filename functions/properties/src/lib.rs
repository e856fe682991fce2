//! Properties: `/api/v1/properties[/{id}]` and the seed 000 integration routes
//! `/api/ai/properties[/{id}]`.

mod integration;
mod list;
mod refusals;
pub mod requests;
mod routes;
pub mod views;

use axum::Router;
use axum::routing::get;
use shared::Services;
use utoipa::OpenApi;

/// The function's router, wrapped in the shared conventions (request ids, 404/405).
pub fn router(services: Services) -> Router {
    let api = Router::new()
        .route("/api/v1/properties", get(routes::list).post(routes::create))
        .route(
            "/api/v1/properties/{id}",
            get(routes::read).put(routes::replace).patch(routes::patch).delete(routes::delete),
        )
        .route("/api/ai/properties", get(integration::list))
        .route("/api/ai/properties/{id}", get(integration::read))
        .with_state(services.clone());
    shared::http::conventions::apply(api, &services)
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::list, routes::create, routes::read, routes::replace, routes::patch, routes::delete, integration::list, integration::read),
    components(schemas(list::SortBy, list::SortOrder)),
    tags((name = "properties", description = "Buildings and sites an organization manages"),
         (name = "integration", description = "Integration API for third-party OAuth apps, in the RentPager-compatible shape"))
)]
struct PropertiesApi;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    PropertiesApi::openapi()
}
