//! Benchmark of the fanned-out rent-roll sync, run by `make bench` (`infra/local/bench.sh`)
//! against a private local stack.
//!
//! Puts 100,000 units (200 in each of 500 properties) of one organization straight
//! through the repository, points its RentSync settings at a local HTTP sink, and then:
//!
//! 1. reads every unit of every property the way a worker does (a page of 100 per
//!    `Query`), timed: the floor that DynamoDB Local sets;
//! 2. runs the sync fanned out: the coordinator (the daily event), then `WORKERS`
//!    concurrent workers taking SQS batches of 10 from the work queue until it is empty,
//!    as Lambda's event source would, until the run is completed.
//!
//! It reports the total time, units per second, the peak heap allocated (a counting
//! global allocator) and the process's peak RSS during the sync (its high-water mark
//! reset first), DynamoDB calls by operation, and the projection for 1,000,000 units.
//!
//! Figures, not assertions: nothing here fails on a slow machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use doorstep_tests::figures::{CallCounter, Counting, HeapPeak, mib};
use doorstep_tests::{app, new_org, test_sqs};
use properties::requests::PropertyInput;
use rent_roll_sync::{SyncRun, Syncer, WorkQueue};
use serde_json::{Value, json};
use shared::domain::ids::PropertyId;
use shared::domain::property::Property;
use shared::domain::unit::Unit;
use shared::store::Store;
use shared::store::rent_roll::{
    AuthMode, DEFAULT_MAX_BODY_BYTES, DeliveryMode, PayloadFormat, RentSyncSettings, SyncMode, SyncSchedule,
};
use shared::time_format;
use units::requests::UnitInput;

const PROPERTIES: usize = 500;
const UNITS_PER_PROPERTY: usize = 200;
const WORKERS: usize = 10;
const PROJECTED_UNITS: f64 = 1_000_000.0;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A `/proc/self/status` figure in bytes (`VmRSS`, `VmHWM`).
fn proc_status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    let kib: usize = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    kib * 1024
}

/// The minimal RentSync stand-in: answers every POST 200 and counts requests and bytes.
async fn sink() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (requests, bytes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (r, b) = (requests.clone(), bytes.clone());
    let router = axum::Router::new().route(
        "/sync",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (r, b) = (r.clone(), b.clone());
            async move {
                r.fetch_add(1, Ordering::Relaxed);
                b.fetch_add(body.len(), Ordering::Relaxed);
                "{\"status\":\"ok\"}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sync", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, requests, bytes)
}

#[tokio::main]
async fn main() {
    let mut app = app().await;
    let counter = CallCounter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        app.services.store.client().config().to_builder().interceptor(counter.clone()).build(),
    );
    app.services.store = Store::new(client, app.services.store.table());
    let services = app.services.clone();
    let org = new_org();
    let total_units = PROPERTIES * UNITS_PER_PROPERTY;

    // Given 100,000 units in 500 properties, written directly
    let started = Instant::now();
    let now = time_format::now();
    let mut property_ids = Vec::with_capacity(PROPERTIES);
    for p in 0..PROPERTIES {
        let input: PropertyInput = serde_json::from_value(json!({
            "name": format!("Bench Court {p}"), "type": "residential",
            "address": {"street": format!("{p} Main Street"), "city": "Springfield", "state": "IL", "postal_code": "62701"}
        }))
        .unwrap();
        let property = Property::new(&org, input.validate().unwrap(), now);
        services.store.properties().create(&property, None).await.unwrap();
        let property_id = PropertyId::parse(&property.id).unwrap();
        let units: Vec<Unit> = (0..UNITS_PER_PROPERTY)
            .map(|u| {
                let input: UnitInput = serde_json::from_value(json!({
                    "unit_number": format!("{}{:03}", (b'A' + (u / 100) as u8) as char, u % 100),
                    "sqft": 850, "bedrooms": 2, "bathrooms": 1, "base_rent": 1500
                }))
                .unwrap();
                Unit::new(&org, &property_id, input.validate().unwrap(), Default::default(), now)
            })
            .collect();
        services.store.units().put_unchecked(&units).await.unwrap();
        property_ids.push(property.id);
    }
    println!("seeded {total_units} units in {PROPERTIES} properties in {:.1} s", started.elapsed().as_secs_f64());

    let (url, posts, posted_bytes) = sink().await;
    let secret_id = format!("doorstep/bench/rentsync/{org}");
    services.aws.secrets.create_secret().name(&secret_id).secret_string("bench-key").send().await.unwrap();
    let settings = RentSyncSettings {
        organization_id: org.clone(),
        enabled: true,
        endpoint_url: url,
        format: PayloadFormat::Nested,
        auth: AuthMode::ApiKey,
        secret_id,
        mode: SyncMode::Snapshot,
        delivery: DeliveryMode::PerProperty,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        sync_id_header: None,
        oauth: None,
        schedule: SyncSchedule::default(),
        version: 0,
        updated_at: time_format::format(now),
    };
    services.store.rent_roll().save_settings(&settings).await.unwrap();

    // 1. Merely reading the units, as workers do
    counter.reset();
    let started = Instant::now();
    let mut read = 0usize;
    for property_id in &property_ids {
        let mut start = None;
        loop {
            let page = services.store.units().list(&org, property_id, start, 100).await.unwrap();
            read += page.items.len();
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
    }
    let read_time = started.elapsed();
    let (_, read_calls, _) = counter.report();
    counter.reset();
    println!(
        "read only: {read} units in {:.1} s ({:.0} units/s), DynamoDB calls {read_calls:?}",
        read_time.as_secs_f64(),
        read as f64 / read_time.as_secs_f64()
    );

    // 2. The sync, fanned out over the work queue
    let sqs = test_sqs(&services);
    let queue_name = format!("rent-roll-bench-{}", ulid::Ulid::generate().to_string().to_lowercase());
    let queue_url = sqs.create_queue().queue_name(&queue_name).send().await.unwrap().queue_url.unwrap();
    let syncer = Syncer::new(&services, Duration::from_secs(30))
        .unwrap()
        .with_queue(Some(WorkQueue::new(sqs.clone(), queue_url.clone())));
    let receives = Arc::new(AtomicUsize::new(0));
    let run = SyncRun::at(time_format::now());
    let heap = HeapPeak::start();
    let _ = std::fs::write("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
    let rss_before = proc_status("VmRSS:");
    let started = Instant::now();
    let fanned = syncer.handle(json!({"detail-type": "Scheduled Event", "time": run.timestamp()}), time_format::now());
    println!("coordinator: {}", fanned.await.unwrap());
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (syncer, sqs, queue_url, receives) = (syncer.clone(), sqs.clone(), queue_url.clone(), receives.clone());
            tokio::spawn(async move {
                let mut idle = 0;
                while idle < 3 {
                    let received =
                        sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).send().await.unwrap();
                    receives.fetch_add(1, Ordering::Relaxed);
                    let messages = received.messages.unwrap_or_default();
                    if messages.is_empty() {
                        idle += 1;
                        continue;
                    }
                    idle = 0;
                    let records: Vec<Value> =
                        messages.iter().map(|m| json!({"messageId": m.message_id(), "body": m.body()})).collect();
                    let answer = syncer.handle(json!({"Records": records}), time_format::now()).await.unwrap();
                    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
                    for message in &messages {
                        let handle = message.receipt_handle().unwrap_or_default();
                        sqs.delete_message().queue_url(&queue_url).receipt_handle(handle).send().await.unwrap();
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let sync_time = started.elapsed();
    let peak_heap = heap.peak();
    let rss_peak = proc_status("VmHWM:");
    let (_, sync_calls, _) = counter.report();
    let record = services.store.rent_roll().run(&org, &run.sync_id).await.unwrap().expect("the run");
    let total_calls: usize = sync_calls.values().sum();
    let rate = total_units as f64 / sync_time.as_secs_f64();
    println!(
        "sync: {total_units} units, {} POSTs ({}) in {:.1} s with {WORKERS} workers: {rate:.0} units/s; run {} ({} delivered, {} failed)",
        posts.load(Ordering::Relaxed),
        mib(posted_bytes.load(Ordering::Relaxed)),
        sync_time.as_secs_f64(),
        if record.completed_at.is_some() { "completed" } else { "NOT completed" },
        record.delivered,
        record.failed,
    );
    println!(
        "memory during the sync ({WORKERS} workers in one process): peak heap {}, RSS {} -> peak {}",
        mib(peak_heap),
        mib(rss_before),
        mib(rss_peak)
    );
    println!(
        "DynamoDB calls during the sync: {total_calls} ({:.1} per property) {sync_calls:?}; SQS receives {}",
        total_calls as f64 / PROPERTIES as f64,
        receives.load(Ordering::Relaxed)
    );
    println!(
        "sync / read-only time: {:.2}x; projection for {PROJECTED_UNITS} units at this rate: {:.0} s ({:.1} min)",
        sync_time.as_secs_f64() / read_time.as_secs_f64(),
        PROJECTED_UNITS / rate,
        PROJECTED_UNITS / rate / 60.0
    );
}
