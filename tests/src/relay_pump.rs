//! Drives the events relay in tests: reads the table's stream from DynamoDB Local (the
//! DynamoDB Streams API) and hands each record to the relay in process, as Lambda's
//! event-source mapping would. Tests run concurrently in one process, so one reader per
//! process holds the shard positions behind a mutex: every record is relayed once, by
//! whichever test pumps next, and a test waits for the outcome it needs with
//! [`Pump::until`].
//!
//! `GetRecords` is read as JSON rather than through the SDK: DynamoDB Local writes an
//! empty map attribute (a property's `occupancy` before its first lease) as `{}` instead
//! of `{"M":{}}`, which the SDK refuses to parse; [`repair_empty_maps`] puts it right.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use events_relay::Relay;
use serde_json::{Value, json};
use shared::Services;
use tokio::sync::Mutex;

/// Where the reader stands on each shard of the table's stream: the next iterator, or
/// `None` once the shard is closed and read to its end.
static POSITIONS: Mutex<Option<Positions>> = Mutex::const_new(None);

struct Positions {
    stream_arn: String,
    shards: HashMap<String, Option<String>>,
}

/// The stream reader and the relay, built from one test's services.
pub struct Pump {
    streams: aws_sdk_dynamodbstreams::Client,
    http: reqwest::Client,
    endpoint: String,
    relay: Relay,
    table: String,
}

impl Pump {
    pub fn new(services: &Services) -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("the stack's env");
        let config =
            aws_sdk_dynamodbstreams::config::Builder::from(&services.aws.sdk_config).endpoint_url(&endpoint).build();
        Self {
            streams: aws_sdk_dynamodbstreams::Client::from_conf(config),
            http: reqwest::Client::new(),
            endpoint,
            relay: Relay::new(services.store.clone(), services.events.clone()),
            table: services.config.table_name.clone(),
        }
    }

    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Reads every record on the stream that no test has relayed yet, and relays them
    /// in order (shard by shard, as Lambda does). Returns how many there were.
    pub async fn drain(&self) -> usize {
        let mut guard = POSITIONS.lock().await;
        if guard.is_none() {
            *guard = Some(self.open().await);
        }
        let positions = guard.as_mut().expect("opened above");
        self.discover_shards(positions).await;
        let mut relayed = 0;
        let shard_ids: Vec<String> = positions.shards.keys().cloned().collect();
        for shard_id in shard_ids {
            while let Some(Some(iterator)) = positions.shards.get(&shard_id).cloned() {
                let (batch, next) = self.get_records(&iterator, &positions.stream_arn).await;
                positions.shards.insert(shard_id.clone(), next);
                if batch.is_empty() {
                    break;
                }
                relayed += batch.len();
                let response = self.relay.relay_batch(&batch).await;
                assert!(response.batch_item_failures.is_empty(), "relay reported failures: {response:?}");
            }
        }
        relayed
    }

    async fn open(&self) -> Positions {
        let streams = self.streams.list_streams().table_name(&self.table).send().await.expect("ListStreams");
        let stream_arn = streams
            .streams
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| s.stream_arn)
            .max()
            .expect("the table has a stream (StreamSpecification in template.yaml)");
        Positions { stream_arn, shards: HashMap::new() }
    }

    async fn discover_shards(&self, positions: &mut Positions) {
        let description = self
            .streams
            .describe_stream()
            .stream_arn(&positions.stream_arn)
            .send()
            .await
            .expect("DescribeStream")
            .stream_description
            .expect("a description");
        for shard in description.shards.unwrap_or_default() {
            let Some(shard_id) = shard.shard_id else { continue };
            if positions.shards.contains_key(&shard_id) {
                continue;
            }
            let iterator = self
                .streams
                .get_shard_iterator()
                .stream_arn(&positions.stream_arn)
                .shard_id(&shard_id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .expect("GetShardIterator")
                .shard_iterator;
            positions.shards.insert(shard_id, iterator);
        }
    }

    /// Pumps the stream until `check` finds what the test waits for, or fails the test
    /// after `deadline`.
    pub async fn until<T, F, Fut>(&self, deadline: Duration, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let give_up = tokio::time::Instant::now() + deadline;
        loop {
            self.drain().await;
            if let Some(found) = check().await {
                return found;
            }
            assert!(tokio::time::Instant::now() < give_up, "timed out waiting for {what}");
            tokio::task::yield_now().await;
        }
    }
}

impl Pump {
    /// One `GetRecords` call: the records as Lambda delivers them, and the next iterator.
    async fn get_records(&self, iterator: &str, stream_arn: &str) -> (Vec<EventRecord>, Option<String>) {
        // DynamoDB Local (-sharedDb) reads the credential scope but checks no signature.
        let response = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDBStreams_20120810.GetRecords")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(json!({"ShardIterator": iterator}).to_string())
            .send()
            .await
            .expect("GetRecords");
        let status = response.status();
        let mut output: Value = serde_json::from_str(&response.text().await.expect("GetRecords body")).expect("JSON");
        assert!(status.is_success(), "GetRecords: {output}");
        let next = output["NextShardIterator"].as_str().map(str::to_owned);
        let records = output["Records"].as_array_mut().map(std::mem::take).unwrap_or_default();
        let records = records.into_iter().map(|record| lambda_record(record, stream_arn)).collect();
        (records, next)
    }
}

/// A `GetRecords` record as Lambda delivers it to the relay.
pub fn lambda_record(mut record: Value, stream_arn: &str) -> EventRecord {
    if let Some(change) = record.get_mut("dynamodb").and_then(Value::as_object_mut) {
        for image in ["Keys", "NewImage", "OldImage"] {
            if let Some(Value::Object(item)) = change.get_mut(image) {
                repair_empty_maps(item);
            }
        }
    }
    record["eventSourceARN"] = json!(stream_arn);
    serde_json::from_value(record).expect("a Lambda DynamoDB stream record")
}

/// Rewrites attribute values written as `{}` to the empty map `{"M":{}}` they stand for.
pub fn repair_empty_maps(item: &mut serde_json::Map<String, Value>) {
    item.values_mut().for_each(repair_value);
}

fn repair_value(value: &mut Value) {
    let Value::Object(typed) = value else { return };
    if typed.is_empty() {
        *value = json!({"M": {}});
        return;
    }
    if let Some(Value::Object(map)) = typed.get_mut("M") {
        repair_empty_maps(map);
    }
    if let Some(Value::Array(list)) = typed.get_mut("L") {
        list.iter_mut().for_each(repair_value);
    }
}
