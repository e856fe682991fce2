//! Benchmark of webhook deliveries, run with
//! `cargo bench -p doorstep-tests --bench webhooks` against the local stack. Reports:
//!
//! 1. end-to-end latency from a write to a local subscriber's receipt: 200 property
//!    PATCHes in process, each followed by one pass of the stream reader (the relay
//!    logs and publishes the event) and the delivery function's handling of the bus
//!    event (subscriptions read, delivery recorded, signed POST, result recorded),
//!    timed from the write's start to the subscriber's receipt;
//! 2. throughput of one event to 100 subscribers of one organization (each its own
//!    local HTTP server), as deliveries per second.
//!
//! Figures, not assertions: nothing here fails on a slow machine.

use std::sync::Arc;
use std::time::Instant;

use doorstep_tests::figures::{ms, percentile};
use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{app, new_org, property_body, test_webhook_settings};
use http::{Method, StatusCode};
use serde_json::json;
use shared::events::DomainEvent;
use shared::time_format;
use tokio::sync::mpsc;

const WRITES: usize = 200;
const SUBSCRIBERS: usize = 100;
const FAN_OUT_EVENTS: usize = 10;

/// A subscriber answering 200 that reports each receipt's instant.
async fn subscriber(receipts: mpsc::UnboundedSender<Instant>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receipts = Arc::new(receipts);
    let route = axum::routing::post(move || {
        let receipts = receipts.clone();
        async move {
            let _ = receipts.send(Instant::now());
            StatusCode::NO_CONTENT
        }
    });
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().route("/hook", route)).await.unwrap() });
    url
}

async fn subscribe(app: &doorstep_tests::TestApp, token: &str, url: &str) {
    let response = app.post("/api/v1/webhooks", token, &json!({"url": url, "events": ["property.*"]})).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
}

#[tokio::main]
async fn main() {
    let app = app().await;
    let deliverer = webhooks::Deliverer::new(&app.services, test_webhook_settings()).unwrap();
    let pump = Pump::new(&app.services);
    pump.drain().await;

    // 1. Write → relay → bus event → signed delivery → receipt.
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (tx, mut rx) = mpsc::unbounded_channel();
    subscribe(&app, &token, &subscriber(tx).await).await;
    let property = app.post("/api/v1/properties", &token, &property_body("Bench Webhooks")).await;
    let uri = format!("/api/v1/properties/{}", property.body["data"]["id"].as_str().unwrap());
    pump.drain().await;
    // Start after the property's own creation.
    let created = app.services.store.event_log().after(&org, "", None, 100).await.unwrap();
    let mut position = created.items.last().map(|l| l.position.clone()).unwrap_or_default();
    let mut latencies = Vec::with_capacity(WRITES);
    for n in 0..WRITES {
        let started = Instant::now();
        let body = json!({"name": format!("Bench Webhooks {n}")});
        let response = app.call(Method::PATCH, &uri, Some(&token), Some(&body), &[]).await;
        assert_eq!(response.status, StatusCode::OK);
        pump.drain().await;
        // The event as the bus rule hands it over: the newest of the log.
        let page = app.services.store.event_log().after(&org, &position, None, 100).await.unwrap();
        for logged in page.items {
            position = logged.position.clone();
            let event: DomainEvent = logged.event;
            let bus = json!({"source": "doorstep.domain", "detail-type": event.event, "detail": event});
            deliverer.handle(bus, time_format::now()).await.unwrap();
        }
        while let Ok(received) = rx.try_recv() {
            latencies.push(received - started);
        }
    }
    println!("webhooks: write to subscriber receipt ({} deliveries, in process, local stack)", latencies.len());
    println!("  p50 {}  p99 {}", ms(percentile(&mut latencies, 0.50)), ms(percentile(&mut latencies, 0.99)));

    // 2. One organization, 100 subscribers.
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (tx, mut rx) = mpsc::unbounded_channel();
    for _ in 0..SUBSCRIBERS {
        subscribe(&app, &token, &subscriber(tx.clone()).await).await;
    }
    let started = Instant::now();
    for n in 0..FAN_OUT_EVENTS {
        let event = DomainEvent {
            event_id: shared::domain::ids::new("evt"),
            event: "property.updated".into(),
            timestamp: time_format::format(time_format::now()),
            organization_id: org.clone(),
            data: json!({"name": format!("Fan-out {n}")}),
            changed_fields: Some(vec!["name".into()]),
        };
        deliverer.on_event(&event, time_format::now()).await.unwrap();
    }
    let elapsed = started.elapsed();
    let mut delivered = 0;
    while rx.try_recv().is_ok() {
        delivered += 1;
    }
    let per_second = f64::from(delivered) / elapsed.as_secs_f64().max(f64::EPSILON);
    println!("webhooks: {FAN_OUT_EVENTS} events to {SUBSCRIBERS} subscribers of one organization");
    println!(
        "  {delivered} deliveries in {}, {per_second:.0} deliveries/s (each recorded twice in DynamoDB Local)",
        ms(elapsed)
    );
}
