//! The layer stack every HTTP function wraps its router in.

use axum::Router;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::http::request_context;

async fn not_found() -> ApiError {
    ApiError::NotFound("Route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("This method is not allowed on this route".into())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}

/// Adds the envelope-shaped 404/405 fallbacks, panic containment and request ids.
pub fn apply(router: Router) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(request_context::assign))
}
