//! One error type for every HTTP boundary, with one status mapping.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::envelope::{ErrorBody, ErrorEnvelope, ErrorMeta};
use crate::store::StoreError;

/// A field-level validation failure, reported in `error.details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The JSON path of the offending field, e.g. `address.city`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Every error a route can answer with. The client sees `code`, status and a
/// safe message; internal causes go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    AuthenticationFailed(&'static str),
    #[error("The access token has expired")]
    TokenExpired,
    #[error("{0}")]
    InsufficientPermissions(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("The request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Validation { message: String, details: Vec<FieldError> },
    #[error("Rate limit exceeded. Try again in {retry_after} seconds.")]
    RateLimited { retry_after: u64 },
    /// A partner service (such as SmartMove) failed or refused; `code` names how.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    #[error("The service is temporarily unavailable")]
    ServiceUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("Internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 422 with field details.
    pub fn validation(details: Vec<FieldError>) -> Self {
        Self::Validation { message: "Validation failed".into(), details }
    }

    /// A 422 for a single field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// Wraps an unexpected failure; the cause is logged, never shown.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::AuthenticationFailed(_) | Self::TokenExpired => StatusCode::UNAUTHORIZED,
            Self::InsufficientPermissions(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, documented error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BAD_REQUEST",
            Self::AuthenticationFailed(_) => "AUTHENTICATION_FAILED",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InsufficientPermissions(_) => "INSUFFICIENT_PERMISSIONS",
            Self::NotFound(_) => "RESOURCE_NOT_FOUND",
            Self::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            Self::Conflict(_) => "CONFLICT",
            Self::PreconditionFailed(_) => "PRECONDITION_FAILED",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
            Self::BadGateway { code, .. } => code,
            Self::ServiceUnavailable(_) => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if status.is_server_error() {
            // The chain goes to the log with the request id (from the span); the client
            // gets the generic message only.
            let mut chain = String::new();
            let mut source = std::error::Error::source(&self);
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(code = self.code(), cause = %chain, "request failed");
        } else {
            tracing::info!(code = self.code(), status = status.as_u16(), "request rejected");
        }
        let (details, retry_after) = match &self {
            Self::Validation { details, .. } => (details.clone(), None),
            Self::RateLimited { retry_after } => (Vec::new(), Some(*retry_after)),
            _ => (Vec::new(), None),
        };
        let body = ErrorEnvelope {
            success: false,
            error: ErrorBody { code: self.code().into(), message: self.to_string(), details, retry_after },
            meta: ErrorMeta::current(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::AuthenticationFailed(_) | Self::TokenExpired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="doorstep", error="invalid_token""#),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<crate::domain::Problems> for ApiError {
    fn from(problems: crate::domain::Problems) -> Self {
        Self::validation(problems.iter().map(|p| FieldError::new(&p.field, &p.message)).collect())
    }
}

/// A retryable store failure (throttling, a timeout) is a 503; any other is a 500.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Dynamo { retryable: true, .. } => ApiError::ServiceUnavailable(Box::new(err)),
            other => ApiError::internal(other),
        }
    }
}
