//! The partner feed (`GET /units`, `GET /leases`): each answer is a bare JSON array, one
//! page of the organization's rows, and a `Link: <...>; rel="next"` header while more
//! follow (the integration API's way to page, with a signed `cursor`).
//!
//! A page holds at most `page_size` rows (default and most [`FEED_PAGE_SIZE`]) and at
//! most [`FEED_PAGE_BYTES`] of body, far below Lambda's 6 MB response limit however large
//! the portfolio. Every read of a page happens before the response starts, so a failed
//! read answers with a status and an envelope instead of ending a body halfway.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::http::listing::{PageRequest, with_next_link};
use crate::http::pagination::{CursorCodec, PageKey};
use crate::store::page::Page;

/// Rows in a feed page, by default and at most.
pub const FEED_PAGE_SIZE: usize = 5000;
/// The most body bytes of a feed page (a row more than this alone is sent on its own page).
pub const FEED_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// Where a feed's rows come from and how they are rendered.
pub trait FeedPages: Send {
    type Item: Send + Sync;

    /// Up to `limit` items from `start` (`None`: the first), and where the next page
    /// starts (`None`: this was the last).
    fn page(
        &mut self,
        start: Option<PageKey>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<Self::Item>, ApiError>> + Send;

    /// The JSON row of each of `items`.
    fn render(&mut self, items: &[Self::Item]) -> impl Future<Output = Result<Vec<String>, ApiError>> + Send;

    /// The key a page that ends with `item` continues after.
    fn key_of(&self, item: &Self::Item) -> PageKey;
}

/// Validates a feed's `page_size` (1 to [`FEED_PAGE_SIZE`], which is the default).
pub fn page_size(requested: Option<usize>) -> Result<usize, ApiError> {
    match requested {
        None => Ok(FEED_PAGE_SIZE),
        Some(size) if (1..=FEED_PAGE_SIZE).contains(&size) => Ok(size),
        Some(_) => Err(ApiError::BadRequest(format!("page_size must be between 1 and {FEED_PAGE_SIZE}"))),
    }
}

/// A `200` answer with the feed page `request` asks for as a bare array, and a `Link` to
/// the next page (`route` is the feed's path and filters) while one follows.
pub async fn page_response<P: FeedPages>(
    mut pages: P,
    request: &PageRequest,
    cursors: &CursorCodec,
    route: &str,
) -> Result<Response, ApiError> {
    let page = pages.page(request.start.clone(), request.size).await?;
    let rows = pages.render(&page.items).await?;
    let kept = rows_within(&rows, FEED_PAGE_BYTES);
    let next = if kept < rows.len() { page.items.get(kept - 1).map(|last| pages.key_of(last)) } else { page.next };
    let next_cursor = next.map(|key| request.cursor(cursors, key));
    Ok(with_next_link(array_response(&rows[..kept]), route, request.size, next_cursor))
}

/// How many of `rows` fit a body of `budget` bytes; always at least one, so that a page
/// moves on even past a row over the budget.
fn rows_within(rows: &[String], budget: usize) -> usize {
    let mut used = 2;
    for (i, row) in rows.iter().enumerate() {
        used += row.len() + 1;
        if used > budget && i > 0 {
            return i;
        }
    }
    rows.len()
}

/// What a feed's rows embed from other items (a unit's property address, a lease's
/// tenants), fetched once per id, in one batch for each page; a gone item is remembered
/// as `None`.
pub struct Related<V> {
    seen: HashMap<String, Option<V>>,
}

impl<V> Default for Related<V> {
    fn default() -> Self {
        Self { seen: HashMap::new() }
    }
}

impl<V> Related<V> {
    /// Fetches, with one call of `fetch`, those of `ids` not seen yet.
    pub async fn fetch_missing<'i, F, Fut>(
        &mut self,
        ids: impl IntoIterator<Item = &'i String>,
        fetch: F,
    ) -> Result<(), ApiError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<HashMap<String, V>, ApiError>>,
    {
        let missing: Vec<String> = ids
            .into_iter()
            .filter(|id| !self.seen.contains_key(*id))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = fetch(missing.clone()).await?;
        for id in missing {
            let item = found.remove(&id);
            self.seen.insert(id, item);
        }
        Ok(())
    }

    /// The item `id`, if it was fetched and exists.
    pub fn get(&self, id: &str) -> Option<&V> {
        self.seen.get(id).and_then(Option::as_ref)
    }
}

/// One row of a feed: `row` as JSON.
pub fn row<R: serde::Serialize>(row: &R) -> Result<String, ApiError> {
    serde_json::to_string(row).map_err(ApiError::internal)
}

/// Parses a required partner-feed boolean (`true` or `false`, nothing else).
pub fn required_bool(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::BadRequest(format!("{name} must be true or false"))),
        None => Err(ApiError::BadRequest(format!("{name} is required (true or false)"))),
    }
}

/// A `200` answer whose body is a JSON array of rows already rendered.
pub fn array_response(rows: &[String]) -> Response {
    let mut body = String::from("[");
    push_rows(&mut body, rows, false);
    body.push(']');
    json_response(Body::from(body))
}

/// Appends `rows` to `out`, each preceded by a comma unless it is the array's very first
/// (`wrote`: whether an element was written before); returns whether one now was.
fn push_rows(out: &mut String, rows: &[String], mut wrote: bool) -> bool {
    out.reserve(rows.iter().map(|row| row.len() + 1).sum());
    for row in rows {
        if wrote {
            out.push(',');
        }
        out.push_str(row);
        wrote = true;
    }
    wrote
}

fn json_response(body: Body) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_page_stops_at_its_byte_budget_but_always_moves_on() {
        let rows: Vec<String> = (0..10).map(|_| "x".repeat(99)).collect();
        assert_eq!(rows_within(&rows, 10_000), 10);
        // `[` and `]`, then each row and its comma: 100 bytes a row.
        assert_eq!(rows_within(&rows, 502), 5);
        assert_eq!(rows_within(&rows, 10), 1);
        assert_eq!(rows_within(&[], 10), 0);
    }
}
