//! Benchmark of the partner unit feed, run with
//! `cargo bench -p doorstep-tests --bench units_feed` against a local stack.
//!
//! Puts 10,000 units (in 20 properties) of a fresh organization straight through the
//! repository, then calls `GET /units?isActive=true` in process, following its `Link`
//! pages, and reports, per run: latency to the last body byte of the last page, the
//! peak heap memory allocated while serving them (a counting global allocator; each body
//! is consumed chunk by chunk as a client would), the body size, and the DynamoDB calls
//! made (an SDK interceptor counting requests by operation).
//!
//! Figures, not assertions: nothing here fails on a slow machine.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use doorstep_tests::figures::{CallCounter, Counting, LIVE, PEAK, mib};
use doorstep_tests::{app, new_org};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use properties::requests::PropertyInput;
use shared::domain::ids::PropertyId;
use shared::domain::property::Property;
use shared::domain::unit::Unit;
use shared::store::Store;
use shared::time_format;
use tower::ServiceExt;
use units::requests::UnitInput;

const UNITS: usize = 10_000;
const PROPERTIES: usize = 20;
const RUNS: usize = 5;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

    // Given 10,000 units in 20 properties, written directly
    let started = Instant::now();
    let now = time_format::now();
    let mut units = Vec::with_capacity(UNITS);
    for p in 0..PROPERTIES {
        let input: PropertyInput = serde_json::from_value(serde_json::json!({
            "name": format!("Bench Tower {p}"), "type": "residential",
            "address": {"street": format!("{p} Main Street"), "city": "Springfield", "state": "IL", "postal_code": "62701"}
        }))
        .unwrap();
        let property = Property::new(&org, input.validate().unwrap(), now);
        services.store.properties().create(&property, None).await.unwrap();
        let property_id = PropertyId::parse(&property.id).unwrap();
        for u in 0..UNITS / PROPERTIES {
            let input: UnitInput = serde_json::from_value(serde_json::json!({
                "unit_number": format!("{}{:03}", (b'A' + (u / 100) as u8) as char, u % 100),
                "sqft": 850, "bedrooms": 2, "owner_id": "5001", "base_rent": 1500,
                "possession_start": "2024-01-01", "possession_end": "2025-12-31"
            }))
            .unwrap();
            units.push(Unit::new(&org, &property_id, input.validate().unwrap(), Default::default(), now));
        }
    }
    services.store.units().put_unchecked(&units).await.unwrap();
    drop(units);
    println!("seeded {UNITS} units in {PROPERTIES} properties in {:.1} s", started.elapsed().as_secs_f64());

    let router = units::router(services.clone());
    let token = app.token(&org, &["OrganizationOwner"]);
    let mut latencies = Vec::new();
    for run in 0..RUNS {
        counter.take();
        let baseline = LIVE.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        let started = Instant::now();
        let (mut bytes, mut chunks, mut pages) = (0usize, 0usize, 0usize);
        let mut elements = 0usize;
        let mut uri = Some("/units?isActive=true".to_owned());
        while let Some(page) = uri.take() {
            let request =
                Request::get(&page).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            pages += 1;
            uri = response
                .headers()
                .get("link")
                .and_then(|link| link.to_str().ok())
                .and_then(|link| link.strip_prefix('<')?.split('>').next().map(str::to_owned));
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    bytes += data.len();
                    chunks += 1;
                    elements += data.iter().filter(|b| **b == b'{').count();
                }
            }
        }
        let elapsed = started.elapsed();
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
        let calls = counter.take();
        let total: usize = calls.values().sum();
        println!(
            "run {run}: {:.1} ms, {elements} units in {pages} pages, body {} in {chunks} chunks, peak heap during a page {}, DynamoDB calls {total} {calls:?}",
            elapsed.as_secs_f64() * 1000.0,
            mib(bytes),
            mib(peak),
        );
        latencies.push(elapsed);
    }
    latencies.sort();
    let median: Duration = latencies[RUNS / 2];
    println!(
        "GET /units?isActive=true over {UNITS} units: median {:.1} ms of {RUNS} runs",
        median.as_secs_f64() * 1000.0
    );
}
