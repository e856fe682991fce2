//! `GET /api/v1/events`: pages of the log, or its Server-Sent Events stream.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::events::DomainEvent;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::listing::PageRequest;
use shared::http::pagination::{self, DEFAULT_PAGE_SIZE};
use shared::http::query::Query;
use shared::store::events::{EventQuery, LoggedEvent, TypeFilter, log_partition};
use shared::store::keys::GSI2PK;
use shared::{ApiError, time_format};
use utoipa::IntoParams;

use crate::EventsState;
use crate::{stream, tokens};

/// Query parameters of `GET /api/v1/events`. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// An event type (`property.created`), every type of a resource (`maintenance.*`),
    /// or `*`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// RFC 3339: events logged at or after this time.
    pub since: Option<String>,
    /// Pages only: 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// Pages only: `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Streams only: a token from `POST /api/v1/events/stream-tokens`, for clients that
    /// cannot send `Authorization` (a browser's `EventSource`).
    pub stream_token: Option<String>,
    /// Streams only: resume after this event, like the `Last-Event-ID` header (for a new
    /// `EventSource`, which cannot set that header).
    pub last_event_id: Option<String>,
}

/// A type filter from `type`.
fn type_filter(value: &str) -> Result<TypeFilter, ApiError> {
    let invalid = || {
        ApiError::invalid_field(
            "type",
            "Use an event type such as property.created, a wildcard such as maintenance.*, or *",
        )
    };
    let (name, wildcard) = match value.strip_suffix('*') {
        Some(prefix) if prefix.is_empty() || prefix.ends_with('.') => (prefix, true),
        Some(_) => return Err(invalid()),
        None => (value, false),
    };
    let well_formed = name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        && !name.starts_with('.')
        && !name.contains("..");
    if !well_formed || (!wildcard && (name.is_empty() || name.ends_with('.'))) {
        return Err(invalid());
    }
    Ok(if wildcard { TypeFilter::Prefix(name.to_owned()) } else { TypeFilter::Exact(name.to_owned()) })
}

impl ListParams {
    fn query(&self) -> Result<EventQuery, ApiError> {
        let types = self.event_type.as_deref().map(type_filter).transpose()?;
        let since = self
            .since
            .as_deref()
            .map(|v| time_format::parse(v).ok_or_else(|| ApiError::invalid_field("since", "Use an RFC 3339 timestamp")))
            .transpose()?;
        Ok(EventQuery { types, since })
    }
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/event-stream"))
}

/// The organization's events, oldest first.
///
/// With `Accept: text/event-stream` the answer is a Server-Sent Events stream instead:
/// each event as `event: <resource>` (such as `property`), `id: <event_id>` and
/// `data: <the event JSON>`, comment lines as heartbeats, resuming after
/// `Last-Event-ID` (or `last_event_id`) without gaps or repeats. Behind the HTTP API the
/// stream ends once it has caught up and the client reconnects; the stream endpoint (a
/// Function URL with response streaming) keeps it open for up to 14 minutes. A browser
/// opens `<stream endpoint>/api/v1/events?stream_token=<token>`.
#[utoipa::path(get, path = "/api/v1/events", operation_id = "listEvents", tag = "events", params(ListParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Streams only: resume after this event")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of events, oldest first; or the event stream", content(
            (SuccessEnvelope<Vec<DomainEvent>> = "application/json"),
            (String = "text/event-stream"))),
        (status = 400, description = "Invalid parameter, cursor or Last-Event-ID", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials or stream token", body = ErrorEnvelope),
        (status = 403, description = "Lacks event:read", body = ErrorEnvelope),
        (status = 422, description = "`type` is not an event type, a wildcard such as `maintenance.*`, or `*`", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<EventsState>,
    principal: Option<Principal>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = params.query()?;
    if wants_stream(&headers) {
        if params.page_size.is_some() || params.cursor.is_some() {
            return Err(ApiError::BadRequest("page_size and cursor are for pages, not streams".into()));
        }
        let org_id = match (principal, params.stream_token.as_deref()) {
            (Some(principal), None) => {
                principal.authorize(Permission::EventRead, None)?;
                principal.org_id
            }
            (None, Some(token)) => tokens::verify(&state.services, token).await?,
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRequest("Send a credential or a stream_token, not both".into()));
            }
            (None, None) => {
                return Err(ApiError::AuthenticationFailed(
                    "Authentication required: send a Bearer token, an X-API-Key or a stream_token",
                ));
            }
        };
        let header = headers.get("last-event-id").map(|v| v.to_str().map(str::to_owned));
        let last = match header {
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return Err(ApiError::BadRequest("Invalid Last-Event-ID".into())),
            None => params.last_event_id,
        };
        return stream::respond(&state, org_id, query, last.filter(|id| !id.is_empty())).await;
    }
    if params.stream_token.is_some() || params.last_event_id.is_some() {
        return Err(ApiError::BadRequest("stream_token and last_event_id need Accept: text/event-stream".into()));
    }
    let principal = principal
        .ok_or(ApiError::AuthenticationFailed("Authentication required: send a Bearer token or an X-API-Key"))?;
    principal.authorize(Permission::EventRead, None)?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let partition = log_partition(&principal.org_id);
    let listing = PageRequest::resume(
        &state.services.cursors,
        &principal.org_id,
        query.fingerprint(),
        page_size,
        params.cursor.as_deref(),
        |key| key.get(GSI2PK) == Some(&partition),
    )?;
    let page =
        state.services.store.event_log().page(&principal.org_id, &query, listing.start.clone(), page_size).await?;
    Ok(listing.respond::<LoggedEvent, DomainEvent>(&state.services.cursors, page))
}
