//! Tenant screening through the SmartMove API: `/api/v1/screenings`.

mod refusals;
pub mod requests;
mod routes;
pub mod smartmove;
pub mod views;

use axum::Router;
use shared::Services;
use shared::secrets::{OnFirstUse, SecretError};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::smartmove::{Limits, SmartMove};

#[derive(OpenApi)]
#[openapi(tags((name = "screening", description = "Credit, criminal and eviction screenings of applicants through SmartMove")))]
struct ScreeningApi;

/// What the function needs: the shared services, the SmartMove client (built once per
/// cold start with the API key from Secrets Manager) and where SmartMove posts back.
#[derive(Debug, Clone)]
pub struct ScreeningState {
    pub services: Services,
    /// The SmartMove client, built with the API key by the first request that calls
    /// SmartMove.
    pub smartmove: OnFirstUse<SmartMove>,
    /// `SMARTMOVE_POSTBACK_URI`: the `smartmove-postback` function's public URL.
    pub postback_uri: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScreeningStartupError {
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
}

impl ScreeningState {
    /// Reads `SMARTMOVE_BASE_URL`, `SMARTMOVE_POSTBACK_URI` and the API key in the secret
    /// `SMARTMOVE_API_KEY_SECRET_ID` (its string value is the key).
    pub async fn load(services: Services) -> Result<Self, ScreeningStartupError> {
        let base_url = shared::config::required("SMARTMOVE_BASE_URL")?;
        let postback_uri = shared::config::required("SMARTMOVE_POSTBACK_URI")?;
        let secret_id = shared::config::required("SMARTMOVE_API_KEY_SECRET_ID")?;
        let smartmove = OnFirstUse::new(&services.aws.secrets, &secret_id, move |api_key, id| {
            SmartMove::new(&base_url, api_key.trim(), Limits::default())
                .map_err(|e| SecretError::Read { id: id.to_owned(), detail: format!("SmartMove client: {e}") })
        });
        Ok(Self { services, smartmove, postback_uri })
    }
}

fn api() -> OpenApiRouter<ScreeningState> {
    OpenApiRouter::with_openapi(ScreeningApi::openapi())
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::read))
        .routes(routes!(routes::add_applicant))
        .routes(routes!(routes::delete_applicant))
        .routes(routes!(routes::cancel))
        .routes(routes!(routes::report_url))
        .routes(routes!(routes::report_status))
        .routes(routes!(routes::convert))
}

/// The function's router, wrapped in the shared conventions (request ids, auth, 404/405).
pub fn router(state: ScreeningState) -> Router {
    let services = state.services.clone();
    let (api, _) = api().with_state(state).split_for_parts();
    shared::http::conventions::apply(api, &services)
}

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
