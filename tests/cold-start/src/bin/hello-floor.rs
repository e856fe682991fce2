//! The smallest useful Lambda function: it answers every event with the event itself.
//! `make bench` builds it with the release profile and measures every Doorstep function
//! against it (init time, latency, memory, size).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) })).await
}
