//! Responses that carry one versioned resource: its view in the envelope, with the
//! `ETag` of its version.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::envelope::ApiResponse;
use crate::http::etag::etag;

/// `view` in the envelope with `status` and the `ETag` of `version`.
pub fn versioned_response<V: Serialize>(view: V, version: u64, status: StatusCode) -> Response {
    ApiResponse::ok(view).with_status(status).with_header(header::ETAG, &etag(version)).into_response()
}

/// A 201 for a resource just created at `location`: its view, `ETag` and `Location`.
pub fn created_response<V: Serialize>(view: V, version: u64, location: &str) -> Response {
    ApiResponse::created(view, location).with_header(header::ETAG, &etag(version)).into_response()
}
