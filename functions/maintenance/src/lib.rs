//! Operations: maintenance requests (`/api/v1/operations/maintenance-requests[/{request_id}[/assign|/complete|/updates|/attachments]]`)
//! work orders (`/api/v1/operations/work-orders[/{work_order_id}[/start|/complete|/cancel]]`)
//! vendors (`/api/v1/operations/vendors[/{vendor_id}[/work-orders|/rate|/performance]]`)
//! and the integration API route `/api/ai/maintenance`.

mod access;
mod announce;
mod attachments;
pub mod bucket;
mod integration;
mod refusals;
pub mod requests;
mod routes;
mod vendors;
pub mod views;
mod work_orders;

use axum::Router;
use axum::extract::FromRef;
use shared::Services;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(tags((name = "maintenance", description = "What is broken, who reported it, and who is fixing it")))]
struct MaintenanceApi;

pub use bucket::AttachmentBucket;

/// What the handlers share: the services every function has, and the attachments bucket.
#[derive(Debug, Clone)]
pub struct MaintenanceState {
    pub services: Services,
    pub bucket: AttachmentBucket,
}

impl FromRef<MaintenanceState> for Services {
    fn from_ref(state: &MaintenanceState) -> Self {
        state.services.clone()
    }
}

impl FromRef<MaintenanceState> for AttachmentBucket {
    fn from_ref(state: &MaintenanceState) -> Self {
        state.bucket.clone()
    }
}

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<MaintenanceState> {
    OpenApiRouter::with_openapi(MaintenanceApi::openapi())
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::read, routes::replace, routes::delete))
        .routes(routes!(routes::assign))
        .routes(routes!(routes::complete))
        .routes(routes!(routes::timeline, routes::comment))
        .routes(routes!(attachments::list, attachments::create))
        .routes(routes!(integration::list, integration::create))
        .routes(routes!(work_orders::list, work_orders::create))
        .routes(routes!(work_orders::read, work_orders::replace, work_orders::delete))
        .routes(routes!(work_orders::start))
        .routes(routes!(work_orders::complete))
        .routes(routes!(work_orders::cancel))
        .routes(routes!(vendors::list, vendors::create))
        .routes(routes!(vendors::read, vendors::replace, vendors::delete))
        .routes(routes!(vendors::work_orders))
        .routes(routes!(vendors::rate))
        .routes(routes!(vendors::performance))
}

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405).
pub fn router(services: Services, bucket: AttachmentBucket) -> Router {
    let (api, _) = api().with_state(MaintenanceState { services: services.clone(), bucket }).split_for_parts();
    shared::http::conventions::apply(api, &services)
}

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
