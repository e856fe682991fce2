//! The `identity` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let state = identity::IdentityState::load(services).await?;
    lambda_http::run(identity::router(state)).await
}
