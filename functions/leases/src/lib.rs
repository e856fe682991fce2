//! Leases: `/api/v1/properties/{property_id}/tenants/{tenant_id}/lease`,
//! `/api/v1/leases[/{lease_id}[/move-out|/renew]]`, and the seed 002 feed `GET /leases`.

mod feed;
mod refusals;
pub mod requests;
mod routes;
pub mod views;

use axum::Router;
use axum::routing::{get, post};
use shared::Services;
use utoipa::OpenApi;

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405).
pub fn router(services: Services) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/properties/{property_id}/tenants/{tenant_id}/lease",
            get(routes::tenant_lease).post(routes::create),
        )
        .route("/api/v1/leases", get(routes::list))
        .route("/api/v1/leases/{lease_id}", get(routes::read))
        .route("/api/v1/leases/{lease_id}/move-out", post(routes::move_out))
        .route("/api/v1/leases/{lease_id}/renew", post(routes::renew))
        .route("/leases", get(feed::leases))
        .with_state(services.clone());
    shared::http::conventions::apply(api, &services)
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::tenant_lease, routes::create, routes::list, routes::read, routes::move_out, routes::renew, feed::leases),
    tags((name = "leases", description = "Who rents which unit, when, on what terms"))
)]
struct LeasesApi;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    LeasesApi::openapi()
}
