//! HTTP conventions shared by every function: envelope, request ids, bodies,
//! query strings, ETags, idempotency keys, pagination cursors and the layer stack.

pub mod access;
pub mod body;
pub mod conventions;
pub mod envelope;
pub mod etag;
pub mod feed;
pub mod idempotency;
pub mod listing;
pub mod openapi;
pub mod optimistic;
pub mod pagination;
pub mod query;
pub mod request_context;
pub mod resource;
pub mod retry_after;
