//! Financial: `/api/v1/financial/invoices[/{invoice_id}[/cancel]]`,
//! `/api/v1/financial/payments[/{payment_id}[/refund]]` and `/api/v1/financial/ledgers/{lease_id}`,
//! over one ledger per lease.

mod announce;
mod invoices;
mod ledgers;
mod payments;
mod receipts;
pub mod refunds;
mod refusals;
pub mod requests;
pub mod views;

use axum::Router;
use shared::Services;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(tags((name = "financial", description = "Each lease's ledger: invoices, payments and the balance they leave")))]
struct FinancialApi;

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<Services> {
    OpenApiRouter::with_openapi(FinancialApi::openapi())
        .routes(routes!(invoices::list, invoices::create))
        .routes(routes!(invoices::read, invoices::replace, invoices::delete))
        .routes(routes!(invoices::cancel))
        .routes(routes!(invoices::void))
        .routes(routes!(invoices::send))
        .routes(routes!(invoices::payments))
        .routes(routes!(payments::list, payments::create))
        .routes(routes!(payments::read, payments::replace))
        .routes(routes!(payments::receipt))
        .routes(routes!(payments::refund))
        .routes(routes!(ledgers::read))
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
