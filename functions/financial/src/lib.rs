//! Financial: `/api/v1/financial/invoices[/{invoice_id}[/cancel]]`,
//! `/api/v1/financial/payments[/{payment_id}[/refund|/receipt]]`,
//! `/api/v1/financial/ledgers/{lease_id}` and `/api/v1/financial/payment-methods`, over one
//! ledger per lease; `/api/v1/financial/rent-runs[/{run_id}]` and
//! `/api/v1/financial/late-fee-policies/{property_id}`, and the daily rent job ([`rent_job`])
//! that issues rent and late fees; and Stripe's events on `POST /webhooks/stripe`.

mod announce;
mod invoices;
mod ledgers;
mod payment_methods;
mod payments;
mod receipts;
pub mod refunds;
mod refusals;
pub mod rent_job;
mod rent_runs;
pub mod requests;
pub mod stripe;
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
        .routes(routes!(rent_runs::list, rent_runs::create))
        .routes(routes!(rent_runs::read))
        .routes(routes!(rent_runs::read_policy, rent_runs::put_policy))
        .routes(routes!(payment_methods::list, payment_methods::create))
        .routes(routes!(stripe::receive))
}

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405);
/// `stripe` verifies `POST /webhooks/stripe`.
pub fn router(services: Services, stripe: shared::secrets::OnFirstUse<stripe::WebhookSecret>) -> Router {
    let (api, _) = api().with_state(services.clone()).split_for_parts();
    shared::http::conventions::apply(api.layer(axum::Extension(stripe)), &services)
}

/// Runs the job of an invocation that is not an HTTP request (the daily rent schedule).
pub use rent_job::run_job;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
