//! The organization's event log: `GET /api/v1/events` as pages of JSON, or, with
//! `Accept: text/event-stream`, as a Server-Sent Events stream; and
//! `POST /api/v1/events/stream-tokens`, which lets a browser's `EventSource` (which
//! cannot send `Authorization`) open the stream.

mod routes;
mod stream;
mod tokens;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use shared::Services;
use utoipa::OpenApi;

pub use stream::Delivery;

/// How event streams behave. Read once at cold start.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub delivery: Delivery,
    /// The log is read this often while a stream is idle.
    pub poll: Duration,
    /// A comment line goes out after this long without an event.
    pub heartbeat: Duration,
    /// Events younger than this are held back, so that one logged a moment earlier but
    /// visible a moment later is never skipped (see `stream`).
    pub settle: Duration,
}

impl StreamSettings {
    /// `EVENTS_STREAM_SECONDS` (how long a streamed response lasts before it ends
    /// cleanly; default 840, under the stream function's 900 s timeout).
    pub fn streaming_from_env() -> Self {
        let seconds = std::env::var("EVENTS_STREAM_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(840);
        Self::new(Delivery::Streaming { max: Duration::from_secs(seconds) })
    }

    pub fn new(delivery: Delivery) -> Self {
        Self {
            delivery,
            poll: Duration::from_secs(1),
            heartbeat: Duration::from_secs(15),
            settle: Duration::from_secs(2),
        }
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct EventsState {
    pub services: Services,
    pub stream: StreamSettings,
}

/// The function's router, wrapped in the shared conventions (request ids, 404/405).
pub fn router(services: Services, stream: StreamSettings) -> Router {
    let state = EventsState { services: services.clone(), stream };
    let api = Router::new()
        .route("/api/v1/events", get(routes::list))
        .route("/api/v1/events/stream-tokens", post(tokens::mint))
        .with_state(state);
    shared::http::conventions::apply(api, &services)
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::list, tokens::mint),
    components(schemas(shared::events::DomainEvent)),
    tags((name = "events", description = "The organization's event log, as pages or a Server-Sent Events stream"))
)]
struct EventsApi;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    EventsApi::openapi()
}
