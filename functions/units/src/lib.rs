//! Units: `/api/v1/properties/{property_id}/units[/{unit_id}[/status]]` and the seed 002
//! feed `GET /units?isActive=`.

mod feed;
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
        .route("/api/v1/properties/{property_id}/units", get(routes::list).post(routes::create))
        .route(
            "/api/v1/properties/{property_id}/units/{unit_id}",
            get(routes::read).put(routes::replace).patch(routes::patch).delete(routes::delete),
        )
        .route(
            "/api/v1/properties/{property_id}/units/{unit_id}/status",
            get(routes::read_status).put(routes::set_status),
        )
        .route("/units", get(feed::units))
        .with_state(services.clone());
    shared::http::conventions::apply(api, &services)
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::list, routes::create, routes::read, routes::replace, routes::patch, routes::delete,
          routes::read_status, routes::set_status, feed::units),
    tags((name = "units", description = "The rentable units of a property, with their rent-roll status"),
         (name = "feed", description = "The seed 002 partner feed: bare JSON arrays with the partner's field names"))
)]
struct UnitsApi;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    UnitsApi::openapi()
}
