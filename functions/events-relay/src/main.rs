//! The `events-relay` Lambda function: DynamoDB stream batches and the redrive schedule.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let relay = &events_relay::Relay::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        relay.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
