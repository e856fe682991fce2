//! The `rent-roll-sync` Lambda function: the daily sync and the retry schedule's ticks.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let syncer = rent_roll_sync::Syncer::new(&services, std::time::Duration::from_secs(30))?;
    let syncer = &syncer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        syncer.handle(event.payload, time::OffsetDateTime::now_utc()).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
