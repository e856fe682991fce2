//! The `rent-roll-sync` Lambda function: the settings, run log and pull feed APIs, the
// The router and the job handler are one future type deep enough to need more room.
#![recursion_limit = "256"]
//! daily sync's coordinator, the work queue's batches and the retry schedule's ticks.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let config = rent_roll_sync::RentSyncConfig::from_env();
    let queue = rent_roll_sync::WorkQueue::from_env(&services);
    let syncer =
        rent_roll_sync::Syncer::with_guard(&services, std::time::Duration::from_secs(30), config.guard.clone())?
            .with_queue(queue);
    let router = rent_roll_sync::router(services, config, syncer.clone());
    let syncer = &syncer;
    shared::lambda::run(
        router,
        move |payload| async move { syncer.handle(payload, time::OffsetDateTime::now_utc()).await },
    )
    .await
}
