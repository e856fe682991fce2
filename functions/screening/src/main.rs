//! The `screening` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let state = screening::ScreeningState::load(services).await?;
    lambda_http::run(screening::router(state)).await
}
