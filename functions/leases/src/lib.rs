//! Leases: `/api/v1/properties/{property_id}/tenants/{tenant_id}/lease`,
//! `/api/v1/leases[/{lease_id}[/move-out|/renew]]`, and the partner lease feed `GET /leases`.

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
#[openapi(tags((name = "leases", description = "Who rents which unit, when, on what terms")))]
struct LeasesApi;

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::with_openapi(LeasesApi::openapi())
        .routes(routes!(routes::tenant_lease, routes::create))
        .routes(routes!(routes::list))
        .routes(routes!(routes::read))
        .routes(routes!(routes::move_out))
        .routes(routes!(routes::renew))
        .routes(routes!(feed::leases))
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
