//! Admission of every request, before any route runs: the credential, when the request
//! carries one, is verified once here and handed to handlers as a `Principal`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Services;

/// Middleware: authenticates `Authorization: Bearer` or `X-API-Key`. A bad credential is
/// answered here; a request without one goes on, and routes that need one refuse it.
pub async fn admit(State(services): State<Services>, mut request: Request, next: Next) -> Response {
    match services.authenticator.authenticate(request.headers()).await {
        Ok(Some(principal)) => {
            tracing::Span::current().record("org_id", principal.org_id.as_str());
            request.extensions_mut().insert(principal);
        }
        Ok(None) => {}
        Err(error) => return error.into_response(),
    }
    next.run(request).await
}
