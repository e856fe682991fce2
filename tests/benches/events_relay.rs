//! Benchmark of the events relay, run with
//! `cargo bench -p doorstep-tests --bench events_relay` against the local stack. Reports:
//!
//! 1. relay latency from a committed write to its event on the bus: 1,000 property
//!    PATCHes in process, each followed by one pass of the stream reader (GetRecords
//!    from DynamoDB Local, then the relay's conditional log put, PutEvents to moto and
//!    the published mark), timed from the write's response to the relay's return;
//! 2. what a write pays for its event: round trips on the write path (none: the stream
//!    carries the change) and in the relay, and the bytes of the log item.
//!
//! Figures, not assertions: nothing here fails on a slow machine.

use std::time::Instant;

use doorstep_tests::figures::{ms, percentile};
use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{app, new_org, property_body};
use http::{Method, StatusCode};
use serde_json::json;
use shared::store::Item;
use shared::store::keys::{PK, SK};

const WRITES: usize = 1_000;

/// DynamoDB's item size: attribute names plus values (strings as UTF-8, numbers at
/// about one byte per two digits plus one).
fn item_bytes(item: &Item) -> usize {
    fn value_bytes(value: &aws_sdk_dynamodb::types::AttributeValue) -> usize {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        match value {
            A::S(s) => s.len(),
            A::N(n) => n.len().div_ceil(2) + 1,
            A::Bool(_) | A::Null(_) => 1,
            A::M(map) => 3 + map.iter().map(|(k, v)| k.len() + value_bytes(v) + 1).sum::<usize>(),
            A::L(list) => 3 + list.iter().map(|v| value_bytes(v) + 1).sum::<usize>(),
            _ => 0,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_bytes(value)).sum()
}

#[tokio::main]
async fn main() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    // Catch up with whatever the stream already holds.
    pump.drain().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let property = app.post("/api/v1/properties", &token, &property_body("Bench Relay")).await;
    assert_eq!(property.status, StatusCode::CREATED);
    let uri = format!("/api/v1/properties/{}", property.body["data"]["id"].as_str().unwrap());
    pump.drain().await;

    let mut latencies = Vec::with_capacity(WRITES);
    let mut write_times = Vec::with_capacity(WRITES);
    for n in 0..WRITES {
        let started = Instant::now();
        let body = json!({"name": format!("Bench Relay {n}")});
        let response = app.call(Method::PATCH, &uri, Some(&token), Some(&body), &[]).await;
        assert_eq!(response.status, StatusCode::OK);
        let written = Instant::now();
        // Two records per request reach the stream (the rate-limit counter and the
        // property); relay until both have been handled.
        let mut relayed = 0;
        while relayed < 2 {
            relayed += pump.drain().await;
        }
        latencies.push(written.elapsed());
        write_times.push(written - started);
    }

    let log = app.get("/api/v1/events?type=property.updated&page_size=1", &token).await;
    let event_id = log.body["data"][0]["event_id"].as_str().unwrap().to_owned();
    let item = app
        .services
        .store
        .client()
        .get_item()
        .table_name(app.services.store.table())
        .key(PK, shared::store::s(format!("ORG#{org}#EVENTS")))
        .key(SK, shared::store::s(format!("EVENT#{event_id}")))
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the logged event");
    let body_bytes = item.get("body").and_then(|b| b.as_s().ok()).map_or(0, String::len);

    println!("events relay, {WRITES} property PATCHes against DynamoDB Local + moto");
    println!(
        "  write (PATCH in process)      p50 {}  p99 {}",
        ms(percentile(&mut write_times, 0.50)),
        ms(percentile(&mut write_times, 0.99))
    );
    println!(
        "  write -> bus (relay pass)     p50 {}  p99 {}",
        ms(percentile(&mut latencies, 0.50)),
        ms(percentile(&mut latencies, 0.99))
    );
    println!("  extra round trips on the write path: 0 (the table's stream carries the change)");
    println!("  relay round trips per event: PutItem (log) + PutEvents + UpdateItem (published mark) = 3");
    println!(
        "  log item: {} bytes ({} of them the event JSON), {} write units on put",
        item_bytes(&item),
        body_bytes,
        item_bytes(&item).div_ceil(1024)
    );
}
