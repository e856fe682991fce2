//! The `financial` Lambda function: its routes, and the daily rent schedule's ticks.
// The router and the job handler are one future type deep enough to need more room.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let stripe = financial::stripe::WebhookSecret::on_first_use(&services)?;
    let router = financial::router(services.clone(), stripe);
    let services = &services;
    shared::lambda::run(router, move |payload| async move {
        financial::run_job(services, payload, time::OffsetDateTime::now_utc()).await
    })
    .await
}
