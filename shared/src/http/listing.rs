//! What the resource listings share: the plain `page_size` and `cursor` parameters, the
//! key a page resumes from, and a page in the envelope.

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::http::envelope::{ApiResponse, Pagination};
use crate::http::pagination::{CursorCodec, CursorScope, PageKey};
use crate::store::page::Page;

/// Query parameters of a listing without filters. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The key a listing resumes from: the caller's `cursor` (if any), verified against
/// `scope`, and then by `belongs`, which says whether this query could have produced
/// the key (a cursor of another property or index is a 400, never a foreign read).
pub fn resume_key(
    cursors: &CursorCodec,
    scope: &CursorScope,
    cursor: Option<&str>,
    belongs: impl FnOnce(&PageKey) -> bool,
) -> Result<Option<PageKey>, ApiError> {
    let start = cursor.map(|c| cursors.decode(c, scope)).transpose()?;
    if start.as_ref().is_some_and(|key| !belongs(key)) {
        return Err(ApiError::BadRequest("The cursor is invalid for this query".into()));
    }
    Ok(start)
}

/// One page of a listing in the envelope, each item shown as its view `V`, with the
/// cursor of the next page (bound to `scope`) when there is one.
pub fn page_response<T, V>(cursors: &CursorCodec, scope: &CursorScope, page: Page<T>, page_size: usize) -> Response
where
    V: Serialize + for<'a> From<&'a T>,
{
    let next_cursor = page.next.map(|key| cursors.encode(scope, key));
    let items: Vec<V> = page.items.iter().map(V::from).collect();
    let pagination = Pagination { page_size, has_next: next_cursor.is_some(), next_cursor };
    ApiResponse::page(items, pagination).into_response()
}

/// A whole listing as its only page, without a cursor: for callers who see few rows
/// (a Tenant's own).
pub fn only_page_response<V: Serialize>(items: Vec<V>, page_size: usize) -> Response {
    let pagination = Pagination { page_size, has_next: false, next_cursor: None };
    ApiResponse::page(items, pagination).into_response()
}

/// Query parameters of an integration API listing, whose next page is announced in a
/// `Link` header. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkPageParams {
    /// 1 to 100, default 100.
    pub page_size: Option<usize>,
    /// From the `Link: <...>; rel="next"` header of the previous page.
    pub cursor: Option<String>,
}

/// Announces the next page of an integration API listing at `path` in a `Link` header,
/// leaving the body exactly in the integration API's shape.
pub fn link_next(mut response: Response, path: &str, page_size: usize, cursor: Option<String>) -> Response {
    if let Some(cursor) = cursor {
        let link = format!("<{path}?page_size={page_size}&cursor={cursor}>; rel=\"next\"");
        if let Ok(value) = link.parse() {
            response.headers_mut().insert(axum::http::header::LINK, value);
        }
    }
    response
}

/// The `updated_since` filter of a listing: an ISO 8601 date (its midnight, UTC) or an
/// RFC 3339 timestamp.
pub fn updated_since(raw: Option<&str>) -> Result<Option<time::OffsetDateTime>, ApiError> {
    raw.map(|raw| {
        crate::time_format::parse(raw)
            .or_else(|| crate::domain::calendar::parse_date(raw).map(|d| d.midnight().assume_utc()))
            .ok_or_else(|| ApiError::BadRequest("updated_since must be an ISO 8601 date or timestamp".into()))
    })
    .transpose()
}
