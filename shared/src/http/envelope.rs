//! The response envelope of API-CONVENTIONS.md for `/api/v1/*`.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::http::request_context;
use crate::time_format;

/// The API version reported in `meta.version`.
pub const API_VERSION: &str = "1.0.0";

#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    pub timestamp: String,
    pub request_id: String,
    pub version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `meta.pagination` on list responses.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pagination {
    pub page_size: usize,
    pub has_next: bool,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The success envelope: `{"success": true, "data": ..., "meta": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessEnvelope<T> {
    pub success: bool,
    pub data: T,
    pub meta: Meta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
    /// Seconds until the rate-limit window resets (429 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorMeta {
    pub timestamp: String,
    pub request_id: String,
    pub correlation_id: String,
}

impl ErrorMeta {
    pub fn current() -> Self {
        let ctx = request_context::current();
        Self {
            timestamp: time_format::format(time_format::now()),
            request_id: ctx.request_id,
            correlation_id: ctx.correlation_id,
        }
    }
}

/// The failure envelope: `{"success": false, "error": {...}, "meta": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub success: bool,
    pub error: ErrorBody,
    pub meta: ErrorMeta,
}

/// Marks a response that carries credentials (tokens, secrets) as never to be stored:
/// `Cache-Control: no-store` and, for HTTP/1.0 caches, `Pragma: no-cache` (RFC 6749 §5.1).
pub fn forbid_caching(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A successful `/api/v1` response: status, `data`, optional pagination and headers.
#[derive(Debug)]
pub struct ApiResponse<T> {
    status: StatusCode,
    data: T,
    pagination: Option<Pagination>,
    headers: HeaderMap,
}

impl<T: Serialize> ApiResponse<T> {
    pub fn ok(data: T) -> Self {
        Self { status: StatusCode::OK, data, pagination: None, headers: HeaderMap::new() }
    }

    /// 201 with a `Location` header.
    pub fn created(data: T, location: &str) -> Self {
        Self::ok(data).with_status(StatusCode::CREATED).with_header(header::LOCATION, location)
    }

    pub fn page(data: T, pagination: Pagination) -> Self {
        Self { pagination: Some(pagination), ..Self::ok(data) }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Forbids caches to keep the response: it carries credentials (see [`forbid_caching`]).
    pub fn no_store(mut self) -> Self {
        forbid_caching(&mut self.headers);
        self
    }

    /// Adds a header; a value that is not a valid header value is skipped.
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
        self
    }
}

impl<T: Serialize> IntoResponse for ApiResponse<T> {
    fn into_response(self) -> Response {
        let ctx = request_context::current();
        let meta = Meta {
            timestamp: time_format::format(time_format::now()),
            request_id: ctx.request_id,
            version: API_VERSION,
            pagination: self.pagination,
        };
        let body = SuccessEnvelope { success: true, data: self.data, meta };
        (self.status, self.headers, axum::Json(body)).into_response()
    }
}
