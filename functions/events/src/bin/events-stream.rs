//! The `events` routes behind a Function URL with response streaming: event streams stay
//! open (up to `EVENTS_STREAM_SECONDS`) and deliver events as they are logged.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let router = events::router(services, events::StreamSettings::streaming_from_env());
    lambda_http::run_with_streaming_response(router).await
}
