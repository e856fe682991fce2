//! The layer stack every HTTP function wraps its router in.

use axum::Router;
use axum::response::{IntoResponse, Response};

use crate::Services;
use crate::error::ApiError;
use crate::http::{access, request_context};

async fn not_found() -> ApiError {
    ApiError::NotFound("Route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("This method is not allowed on this route".into())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}

/// Adds the envelope-shaped 404/405 fallbacks, authentication, panic containment and
/// request ids.
pub fn apply(router: Router, services: &Services) -> Router {
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(services.clone(), access::admit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(request_context::assign));
    // Cost measurement, only when `DOORSTEP_MEASURE_DYNAMODB` is set.
    match crate::measure::output_path() {
        Some(_) => router.layer(axum::middleware::from_fn(crate::measure::measure)),
        None => router,
    }
}
