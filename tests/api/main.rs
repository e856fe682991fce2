//! Integration tests: the properties router against DynamoDB Local and moto.
//! Every test works in a fresh organization, so tests run in parallel safely.

mod api_keys;
mod auth;
mod conventions;
mod crud;
mod events;
mod financial;
mod financial_lifecycle;
mod identity_mfa;
mod identity_recovery;
mod identity_sessions;
mod identity_support;
mod identity_users;
mod input_limits;
mod integration_api;
mod key_rotation;
mod lambda_events;
mod leasing;
mod leasing_events;
mod listing;
mod log_capture;
mod maintenance;
mod maintenance_attachments;
mod oauth_apps;
mod oauth_events;
mod oauth_flow;
mod oauth_hosted;
mod openapi;
mod payment_methods;
mod rate_limits;
mod rent_roll;
mod route_table;
mod screening;
mod stripe;
mod webhooks;
mod writes;
