//! The `smartmove-postback` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    lambda_http::run(smartmove_postback::router(services)).await
}
