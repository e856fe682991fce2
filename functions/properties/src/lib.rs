//! Properties: `/api/v1/properties[/{property_id}]` and the integration API
//! routes `/api/ai/properties[/{property_id}]`.

mod integration;
mod list;
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
#[openapi(
    components(schemas(list::SortBy, list::SortOrder)),
    tags((name = "properties", description = "Buildings and sites an organization manages"),
         (name = "integration", description = "Integration API for third-party OAuth apps (RentPager-compatible shapes)"))
)]
struct PropertiesApi;

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::with_openapi(PropertiesApi::openapi())
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::read, routes::replace, routes::patch, routes::delete))
        .routes(routes!(integration::list))
        .routes(routes!(integration::read))
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
