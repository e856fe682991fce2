//! The `events` Lambda function behind the HTTP API: pages of the log, and event
//! streams that end as soon as they have caught up (HTTP APIs buffer responses).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    lambda_http::run(events::router(services, events::StreamSettings::new(events::Delivery::Buffered))).await
}
