//! Integration tests: the properties router against DynamoDB Local and moto.
//! Every test works in a fresh organization, so tests run in parallel safely.

mod api_keys;
mod auth;
mod conventions;
mod crud;
mod integration_api;
mod lambda_events;
mod listing;
mod oauth_apps;
mod oauth_events;
mod oauth_flow;
mod openapi;
mod writes;
