//! Doorstep's shared crate: everything two or more Lambda functions need.
//!
//! A request flows one way: [`http`] extractors (auth, body, query) → [`domain`]
//! validation → [`store`] repositories → [`http::envelope`] response.

pub mod auth;
pub mod aws;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod lambda;
pub mod measure;
pub mod rate_limit;
pub mod secrets;
pub mod services;
pub mod store;
pub mod telemetry;
pub mod time_format;

pub use error::{ApiError, FieldError};
pub use services::Services;
