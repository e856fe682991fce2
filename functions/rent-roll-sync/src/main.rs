//! The `rent-roll-sync` Lambda function: the daily sync, the retry schedule's ticks and
//! the pull feed's HTTP route.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let syncer = rent_roll_sync::Syncer::new(&services, std::time::Duration::from_secs(30))?;
    let syncer = &syncer;
    let router = rent_roll_sync::router(services);
    shared::lambda::run(
        router,
        move |payload| async move { syncer.handle(payload, time::OffsetDateTime::now_utc()).await },
    )
    .await
}
