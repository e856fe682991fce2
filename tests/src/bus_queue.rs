//! An SQS queue (on moto) subscribed to the stack's bus through an EventBridge rule, so
//! that a test observes what was published.

use aws_sdk_eventbridge::types::Target;
use serde_json::Value;

use crate::TestApp;

/// A queue that receives the bus's events matching one pattern.
pub struct BusQueue {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl BusQueue {
    /// A new queue (named `<label>-<ulid>`) and a rule with `pattern` that targets it.
    pub async fn subscribe(app: &TestApp, label: &str, pattern: &Value) -> Self {
        let sdk = &app.services.aws.sdk_config;
        let sqs = crate::test_sqs(&app.services);
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let name = format!("{label}-{}", ulid::Ulid::generate().to_string().to_lowercase());
        let queue_url = sqs.create_queue().queue_name(&name).send().await.expect("create queue").queue_url.unwrap();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let arn = attributes.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
        let bus = &app.services.config.event_bus_name;
        events
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("put rule");
        events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus)
            .targets(Target::builder().id("queue").arn(arn).build().unwrap())
            .send()
            .await
            .expect("put targets");
        Self { sqs, queue_url }
    }

    /// Up to ten events from the queue (each removed from it), waiting up to `wait`
    /// seconds for the first.
    pub async fn receive(&self, wait: i32) -> Vec<Value> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .send()
            .await
            .expect("receive");
        let mut events = Vec::new();
        for message in output.messages.unwrap_or_default() {
            events.push(serde_json::from_str(message.body().unwrap_or("null")).expect("event JSON"));
            let handle = message.receipt_handle().unwrap_or_default();
            self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(handle).send().await.expect("delete");
        }
        events
    }
}
