//! The `webhooks-deliver` Lambda function: one domain event from the bus rule, or a tick
//! of the retry schedule.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let services = shared::Services::load().await?;
    let deliverer = webhooks::Deliverer::new(&services, webhooks::Settings::from_env())?;
    let deliverer = &deliverer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        deliverer.handle(event.payload, time::OffsetDateTime::now_utc()).await
    }))
    .await
}
