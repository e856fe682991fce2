//! The `financial` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let stripe = financial::stripe::WebhookSecret::load(&services).await?;
    lambda_http::run(financial::router(services, stripe)).await
}
