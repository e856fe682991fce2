//! The `tenants` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    lambda_http::run(tenants::router(services)).await
}
