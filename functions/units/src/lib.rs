//! Units: `/api/v1/properties/{property_id}/units[/{unit_id}[/status]]` and the partner
//! unit feed `GET /units?isActive=`.

mod feed;
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
    tags((name = "units", description = "The rentable units of a property, with their rent-roll status"),
         (name = "feed", description = "The partner feed: bare JSON arrays with the partner's field names"))
)]
struct UnitsApi;

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::with_openapi(UnitsApi::openapi())
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::read, routes::replace, routes::patch, routes::delete))
        .routes(routes!(routes::read_status, routes::set_status))
        .routes(routes!(feed::units))
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
