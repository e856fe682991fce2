//! Admission of every request, before any route runs: the credential, when the request
//! carries one, is verified once here and handed to handlers as a `Principal`; then the
//! request is counted against its rate limit, and every response reports that limit.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Services;
use crate::auth::{Actor, Principal};
use crate::error::ApiError;
use crate::rate_limit::Limit;
use crate::store::keys;

/// Middleware: authenticates `Authorization: Bearer` or `X-API-Key` (a bad credential is
/// answered here; a request without one goes on, and routes that need one refuse it),
/// then applies the rate limit of the credential, or of the source IP without one.
pub async fn admit(State(services): State<Services>, request: Request, next: Next) -> Response {
    // The first request of an instance reads its keys; every later one finds them in.
    if let Err(error) = services.ready().await {
        return error.into_response();
    }
    let (mut parts, body) = request.into_parts();
    let authenticated = services.authenticator.authenticate(&parts.headers).await;
    let principal = authenticated.as_ref().ok().and_then(Option::as_ref);
    let (bucket, limit) = match principal {
        Some(principal) => {
            tracing::Span::current().record("org_id", principal.org_id.as_str());
            credential_bucket(&services, principal)
        }
        None => (keys::rate_limit_ip(&source_ip(&parts)), services.rate_limiter.limits().anonymous),
    };
    let decision = match services.rate_limiter.consume(&bucket, limit).await {
        Ok(decision) => Some(decision),
        Err(error) => {
            // Counting is protection, not the product: when the counter is unreachable the
            // request is served rather than failed, and the outage is logged.
            tracing::warn!(error = %error, "rate-limit counter unavailable; request not counted");
            None
        }
    };
    let mut response = match (authenticated, decision) {
        (_, Some(decision)) if !decision.allowed() => {
            ApiError::RateLimited { retry_after: decision.retry_after() }.into_response()
        }
        (Err(error), _) => error.into_response(),
        (Ok(principal), _) => {
            if let Some(principal) = principal {
                parts.extensions.insert(principal);
            }
            next.run(Request::from_parts(parts, body)).await
        }
    };
    if let Some(decision) = decision {
        decision.write_headers(response.headers_mut());
    }
    response
}

/// The bucket of a credential: the user, the OAuth app, or the API key, inside its
/// organization, at its plan's limit.
fn credential_bucket(services: &Services, principal: &Principal) -> (String, Limit) {
    let credential = match (&principal.client_id, &principal.actor) {
        (Some(client_id), _) => format!("app:{client_id}"),
        (None, Actor::User { user_id, .. }) => format!("user:{user_id}"),
        (None, Actor::ApiKey { key_id }) => format!("key:{key_id}"),
    };
    let limit = services.rate_limiter.limits().for_plan(principal.plan);
    (keys::rate_limit_credential(&principal.org_id, &credential), limit)
}

/// The caller's address: API Gateway's `sourceIp` when behind it; otherwise (local runs and
/// tests only) the first `X-Forwarded-For` hop, else `unknown`. Behind API Gateway the
/// header is never trusted, since callers can set it. Only a well-formed address is
/// returned, since it becomes part of storage keys.
pub fn source_ip(parts: &Parts) -> String {
    use lambda_http::request::RequestContext as Gateway;
    let raw = match parts.extensions.get::<Gateway>() {
        Some(Gateway::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned()),
    };
    raw.and_then(|raw| raw.parse::<IpAddr>().ok()).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Extractor for [`source_ip`].
#[derive(Debug, Clone)]
pub struct SourceIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SourceIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(source_ip(parts)))
    }
}
