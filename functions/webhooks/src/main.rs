//! The `webhooks` Lambda function: the subscriptions API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    lambda_http::run(webhooks::router(services, webhooks::Settings::from_env())?).await
}
