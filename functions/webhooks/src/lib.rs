//! Outbound webhooks: subscriptions (`/api/v1/webhooks`), deliveries signed per
//! Standard Webhooks, retries on a persisted schedule, the delivery log, redelivery and
//! replay from the event log.

mod delivery;
pub mod guard;
pub mod matching;
mod refusals;
pub mod requests;
mod routes;
pub mod signing;
pub mod views;

use std::time::Duration;

use axum::Router;
use shared::Services;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use delivery::{DISABLE_AFTER, Deliverer, RETRY_SCHEDULE, WEBHOOKS_SOURCE, new_delivery};
pub use guard::AddressGuard;

/// How deliveries behave. Read once at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Which URLs subscriptions and deliveries may use.
    pub guard: AddressGuard,
    /// The whole POST, connection included.
    pub timeout: Duration,
}

impl Settings {
    /// `WEBHOOKS_ALLOW_PRIVATE_URLS=true` allows `http` and private addresses (the local
    /// stack and tests only).
    pub fn from_env() -> Self {
        let allow = std::env::var("WEBHOOKS_ALLOW_PRIVATE_URLS").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        Self::new(AddressGuard::new(allow))
    }

    pub fn new(guard: AddressGuard) -> Self {
        Self { guard, timeout: Duration::from_secs(15) }
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct WebhooksState {
    pub services: Services,
    pub settings: Settings,
    /// Sends test deliveries and redeliveries at once.
    pub deliverer: Deliverer,
}

/// The function's router, wrapped in the shared conventions (request ids, 404/405).
pub fn router(services: Services, settings: Settings) -> Result<Router, reqwest::Error> {
    let deliverer = Deliverer::new(&services, settings.clone())?;
    let state = WebhooksState { services: services.clone(), settings, deliverer };
    let (api, _) = api().with_state(state).split_for_parts();
    Ok(shared::http::conventions::apply(api, &services))
}

fn api() -> OpenApiRouter<WebhooksState> {
    OpenApiRouter::with_openapi(WebhooksApi::openapi())
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::read, routes::replace, routes::patch, routes::delete))
        .routes(routes!(routes::test))
        .routes(routes!(routes::rotate_secret))
        .routes(routes!(routes::deliveries))
        .routes(routes!(routes::redeliver))
        .routes(routes!(routes::replay))
}

#[derive(OpenApi)]
#[openapi(tags((name = "webhooks", description = "Subscriptions to the organization's events, delivered signed per Standard Webhooks")))]
struct WebhooksApi;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
