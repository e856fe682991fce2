//! What the resource listings share: the plain `page_size` and `cursor` parameters, the
//! key a page resumes from, and a page in the envelope.

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::http::envelope::{ApiResponse, Pagination};
use crate::http::pagination::{CursorCodec, CursorScope, PageKey};
use crate::store::keys;
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

/// One page request of a listing: its size, the key it resumes from (the caller's
/// cursor, verified), and what the next page's cursor is bound to.
#[derive(Debug)]
pub struct PageRequest {
    pub size: usize,
    pub start: Option<PageKey>,
    scope: CursorScope,
}

impl PageRequest {
    /// The page of `size` (already checked) of the organization's listing `query`, from
    /// `cursor` (if any): verified against the organization and `query`, and then by
    /// `belongs`, which says whether this query could have produced the key (a cursor of
    /// another property or index is a 400, never a foreign read).
    pub fn resume(
        cursors: &CursorCodec,
        org_id: &str,
        query: String,
        size: usize,
        cursor: Option<&str>,
        belongs: impl FnOnce(&PageKey) -> bool,
    ) -> Result<Self, ApiError> {
        let scope = CursorScope { org_id: org_id.to_owned(), query };
        let start = cursor.map(|c| cursors.decode(c, &scope)).transpose()?;
        if start.as_ref().is_some_and(|key| !belongs(key)) {
            return Err(ApiError::BadRequest("The cursor is invalid for this query".into()));
        }
        Ok(Self { size, start, scope })
    }

    /// [`Self::resume`] for a listing read from the organization's own partition, whose
    /// every key starts there.
    pub fn in_organization(
        cursors: &CursorCodec,
        org_id: &str,
        query: String,
        size: usize,
        cursor: Option<&str>,
    ) -> Result<Self, ApiError> {
        let partition = keys::org(org_id);
        Self::resume(cursors, org_id, query, size, cursor, |key| key.get(keys::PK) == Some(&partition))
    }

    /// [`Self::resume`] for a listing of the organization's partition whose sort keys
    /// start with `prefix` (one request's timeline, its attachments).
    pub fn under_prefix(
        cursors: &CursorCodec,
        org_id: &str,
        query: String,
        size: usize,
        cursor: Option<&str>,
        prefix: &str,
    ) -> Result<Self, ApiError> {
        let partition = keys::org(org_id);
        Self::resume(cursors, org_id, query, size, cursor, |key| {
            key.get(keys::PK) == Some(&partition) && key.get(keys::SK).is_some_and(|sk| sk.starts_with(prefix))
        })
    }

    /// The cursor of the page from `key` of this listing.
    pub fn cursor(&self, cursors: &CursorCodec, key: PageKey) -> String {
        cursors.encode(&self.scope, key)
    }

    /// `page` in the envelope, each item shown as its view `V`, with the cursor of the
    /// next page (bound to this listing) when there is one.
    pub fn respond<T, V>(&self, cursors: &CursorCodec, page: Page<T>) -> Response
    where
        V: Serialize + for<'a> From<&'a T>,
    {
        let next_cursor = page.next.map(|key| self.cursor(cursors, key));
        let items: Vec<V> = page.items.iter().map(V::from).collect();
        let pagination = Pagination { page_size: self.size, has_next: next_cursor.is_some(), next_cursor };
        ApiResponse::page(items, pagination).into_response()
    }
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

/// `response` with a `Link: <route?page_size=..&cursor=..>; rel="next"` header when there
/// is a next page (the integration API's way to page).
pub fn with_next_link(mut response: Response, route: &str, page_size: usize, next_cursor: Option<String>) -> Response {
    if let Some(cursor) = next_cursor {
        let link = format!("<{route}?page_size={page_size}&cursor={cursor}>; rel=\"next\"");
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
