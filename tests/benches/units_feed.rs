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

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use axum::body::Body;
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

/// The system allocator, counting live and peak bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts DynamoDB requests by operation (`X-Amz-Target`).
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        if let Ok(mut calls) = self.0.lock() {
            *calls.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
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
        counter.0.lock().unwrap().clear();
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
        let calls = counter.0.lock().unwrap().clone();
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
