//! The organization's event log: `GET /api/v1/events` as pages of JSON, or, with
//! `Accept: text/event-stream`, as a Server-Sent Events stream; and
//! `POST /api/v1/events/stream-tokens`, which lets a browser's `EventSource` (which
//! cannot send `Authorization`) open the stream.

mod routes;
mod stream;
mod tokens;

use std::time::Duration;

use axum::Router;
use shared::Services;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    let (api, _) = api().with_state(state).split_for_parts();
    shared::http::conventions::apply(api, &services)
}

/// Every route of the function: each handler's `#[utoipa::path]` gives its method, path and documentation.
fn api() -> OpenApiRouter<EventsState> {
    OpenApiRouter::with_openapi(EventsApi::openapi()).routes(routes!(routes::list)).routes(routes!(tokens::mint))
}

#[derive(OpenApi)]
#[openapi(
    components(schemas(shared::events::DomainEvent)),
    tags((name = "events", description = "The organization's event log, as pages or a Server-Sent Events stream"))
)]
struct EventsApi;

/// This function's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}
