//! The `financial` Lambda function: its routes, and the daily rent schedule's ticks.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let stripe = financial::stripe::WebhookSecret::load(&services).await?;
    let router = financial::router(services.clone(), stripe);
    let services = &services;
    shared::lambda::run(router, move |payload| async move {
        financial::run_job(services, payload, time::OffsetDateTime::now_utc()).await
    })
    .await
}
