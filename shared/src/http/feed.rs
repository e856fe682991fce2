//! The partner feed (`GET /units`, `GET /leases`): a bare JSON array over the whole
//! organization, streamed page by page.
//!
//! Each DynamoDB page is serialized into the response as it arrives, so memory stays
//! bounded by a page whatever the portfolio's size. The first page is read before the
//! response starts, so that errors on it still answer with a proper status and envelope.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::http::pagination::PageKey;

/// Where a feed's pages come from and how its rows are rendered.
pub trait FeedPages: Send + 'static {
    /// The page from `start` (`None`: the first): each row's JSON, and where the next
    /// page starts (`None`: this was the last).
    fn page(
        &mut self,
        start: Option<PageKey>,
    ) -> impl Future<Output = Result<(Vec<String>, Option<PageKey>), ApiError>> + Send;
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

/// A `200` answer whose body is a JSON array of rows already rendered, at once.
pub fn array_response(rows: &[String]) -> Response {
    let mut body = String::from("[");
    push_rows(&mut body, rows, false);
    body.push(']');
    json_response(Body::from(body))
}

/// A `200` answer streaming every page of `pages` as one JSON array. `name` says which
/// feed failed in the log, should a later page fail after the status line is sent.
pub async fn stream_array<P: FeedPages>(mut pages: P, name: &'static str) -> Result<Response, ApiError> {
    let (rows, next) = pages.page(None).await?;
    let mut head = String::from("[");
    let wrote = push_rows(&mut head, &rows, false);
    let step = next.map_or(Step::Close, Step::Page);
    let rest = futures::stream::unfold((pages, step, wrote), move |(mut pages, step, wrote)| async move {
        match step {
            Step::Page(key) => match pages.page(Some(key)).await {
                Ok((rows, next)) => {
                    let mut chunk = String::new();
                    let wrote = push_rows(&mut chunk, &rows, wrote);
                    Some((Ok(chunk), (pages, next.map_or(Step::Close, Step::Page), wrote)))
                }
                Err(err) => {
                    // The status line is gone; ending the body early is all that is left.
                    tracing::error!(error = %err, "{name} feed failed mid-stream");
                    Some((Err(std::io::Error::other(format!("{name} feed failed"))), (pages, Step::Done, wrote)))
                }
            },
            Step::Close => Some((Ok("]".to_owned()), (pages, Step::Done, wrote))),
            Step::Done => None,
        }
    });
    let stream = futures::StreamExt::chain(futures::stream::once(async move { Ok(head) }), rest);
    Ok(json_response(Body::from_stream(stream)))
}

enum Step {
    Page(PageKey),
    Close,
    Done,
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
