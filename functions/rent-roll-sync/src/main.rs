//! The `rent-roll-sync` Lambda function: the run log API, the daily sync's coordinator,
//! the work queue's batches and the retry schedule's ticks, from one binary.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let queue = rent_roll_sync::WorkQueue::from_env(&services);
    let syncer = rent_roll_sync::Syncer::new(&services, std::time::Duration::from_secs(30))?.with_queue(queue);
    let router = rent_roll_sync::router(services, syncer.clone());
    let syncer = &syncer;
    shared::lambda::run(
        router,
        move |payload| async move { syncer.handle(payload, time::OffsetDateTime::now_utc()).await },
    )
    .await
}
