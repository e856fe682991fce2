//! The Server-Sent Events stream of an organization's log.
//!
//! The stream follows the log's order (when the relay logged each event, GSI2), not the
//! events' own times: a change the relay retried is logged late but is still delivered,
//! after what came before it. An event is held back until it is `settle` old, so that an
//! event logged a moment earlier but visible in the index a moment later is not passed
//! over; a client resuming with `Last-Event-ID` continues from that event's place in the
//! log, so it sees every later event once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use shared::store::Store;
use shared::store::events::{EventQuery, LoggedEvent, TypeFilter};
use shared::{ApiError, time_format};
use tokio::time::Instant;

use crate::{EventsState, StreamSettings};

/// How a response reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The whole response at once (the HTTP API buffers): the stream ends as soon as it
    /// has caught up, and the client reconnects with `Last-Event-ID`.
    Buffered,
    /// Lambda response streaming: the stream stays open up to `max`, then ends cleanly
    /// so that the client reconnects before the function would time out.
    Streaming { max: Duration },
}

/// Events read from the log at a time.
const BATCH: usize = 100;
/// The longest a buffered stream reads the log.
const BUFFERED_MAX: Duration = Duration::from_secs(5);
/// How long the client waits before reconnecting after the stream ends.
const RETRY: Duration = Duration::from_secs(1);

/// Where a stream stands in the log.
struct Tail {
    store: Store,
    org_id: String,
    types: Option<TypeFilter>,
    /// The log position of the last event delivered (or where the stream started).
    position: String,
    settings: StreamSettings,
    deadline: Instant,
    ready: VecDeque<LoggedEvent>,
    finished: bool,
}

impl Tail {
    /// Reads the settled events after `position`; how many there were.
    async fn fetch(&mut self) -> Result<usize, ApiError> {
        let settle = time::Duration::try_from(self.settings.settle).unwrap_or(time::Duration::ZERO);
        let settled_before = time_format::format(time_format::now() - settle);
        let page = self.store.event_log().after(&self.org_id, &self.position, self.types.as_ref(), BATCH).await?;
        let settled: Vec<LoggedEvent> =
            page.items.into_iter().take_while(|e| e.position.as_str() < settled_before.as_str()).collect();
        let count = settled.len();
        self.ready.extend(settled);
        Ok(count)
    }

    async fn next_event(mut self) -> Option<(Event, Tail)> {
        loop {
            if let Some(logged) = self.ready.pop_front() {
                self.position.clone_from(&logged.position);
                let event =
                    Event::default().event(logged.event.resource()).id(&logged.event.event_id).data(&logged.body);
                return Some((event, self));
            }
            if self.finished || Instant::now() >= self.deadline {
                return None;
            }
            match self.fetch().await {
                Ok(0) => match self.settings.delivery {
                    Delivery::Buffered => self.finished = true,
                    Delivery::Streaming { .. } => {
                        let wait = self.settings.poll.min(self.deadline.saturating_duration_since(Instant::now()));
                        tokio::time::sleep(wait).await;
                    }
                },
                Ok(_) => {}
                Err(error) => {
                    // The client reconnects with the last id it received; nothing is lost.
                    tracing::warn!(error = %error, "event stream ended early: the log is unreadable");
                    self.finished = true;
                }
            }
        }
    }
}

fn events(tail: Tail) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::once(async { Event::default().retry(RETRY) }).chain(stream::unfold(tail, Tail::next_event)).map(Ok)
}

/// The stream of `org_id`'s log from after `last_event_id`, else from `query.since`,
/// else from now.
pub async fn respond(
    state: &EventsState,
    org_id: String,
    query: EventQuery,
    last_event_id: Option<String>,
) -> Result<Response, ApiError> {
    let store = state.services.store.clone();
    let position = match last_event_id {
        Some(id) => {
            let logged = store.event_log().get(&org_id, &id).await?;
            logged
                .ok_or_else(|| ApiError::BadRequest("Last-Event-ID is not an event of this organization's log".into()))?
                .position
        }
        None => time_format::format(query.since.unwrap_or_else(time_format::now)),
    };
    let lifetime = match state.stream.delivery {
        // Ends once caught up; this only bounds a long catch-up under the HTTP API's limits.
        Delivery::Buffered => BUFFERED_MAX,
        Delivery::Streaming { max } => max,
    };
    let tail = Tail {
        store,
        org_id,
        types: query.types,
        position,
        settings: state.stream.clone(),
        deadline: Instant::now() + lifetime,
        ready: VecDeque::new(),
        finished: false,
    };
    let keep_alive = KeepAlive::new().interval(state.stream.heartbeat).text("heartbeat");
    let mut response = Sse::new(events(tail)).keep_alive(keep_alive).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    Ok(response)
}
