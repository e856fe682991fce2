//! The `maintenance` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let bucket = maintenance::AttachmentBucket::from_env(&services)?;
    lambda_http::run(maintenance::router(services, bucket)).await
}
