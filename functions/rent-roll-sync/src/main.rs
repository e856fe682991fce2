//! The `rent-roll-sync` Lambda function: the settings API, the pull feed, the scheduled
//! sync and the retry schedule's ticks.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let config = rent_roll_sync::RentSyncConfig::from_env();
    let syncer =
        rent_roll_sync::Syncer::with_guard(&services, std::time::Duration::from_secs(30), config.guard.clone())?;
    let router = rent_roll_sync::router(services, config);
    let syncer = &syncer;
    shared::lambda::run(
        router,
        move |payload| async move { syncer.handle(payload, time::OffsetDateTime::now_utc()).await },
    )
    .await
}
