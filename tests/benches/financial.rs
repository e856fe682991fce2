//! Benchmark of the rent job and the overdue index, run by `infra/local/bench_financial.sh`
//! (`make bench`) against a private local stack.
//!
//! 1. The daily rent job over 10,000 leases due the same day (one scheduled tick, every
//!    organization): time, DynamoDB calls by operation, peak heap; then the same day again
//!    (every lease already charged).
//! 2. `GET /api/ai/renters/overdue` in an organization of 10,000 renters of whom 500 have
//!    a rent invoice past due: latency, DynamoDB calls and the items they read.
//!
//! Leases and renters are written straight through the repositories; rent is issued by
//! the job itself. Figures, not assertions: nothing here fails on a slow machine.

use std::time::{Duration, Instant};

use axum::body::Body;
use doorstep_tests::figures::{CallCounter, Counting, HeapPeak, mib};
use doorstep_tests::{app, new_org};
use financial::rent_job::RentJob;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use shared::domain::Currency;
use shared::domain::calendar;
use shared::domain::ids::{LeaseId, PropertyId, TenantId};
use shared::domain::lease::Lease;
use shared::domain::money::Money;
use shared::domain::tenant::{Tenant, TenantFields};
use shared::time_format;
use time::{Date, Duration as Days};
use tower::ServiceExt;

const LEASES: usize = 10_000;
const RENTERS: usize = 10_000;
const OVERDUE: usize = 500;
const RUNS: usize = 5;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn lease(org: &str, property_id: &str, tenant_id: &str, due_day: u8, start: Date, end: Date) -> Lease {
    let now = time_format::now();
    Lease {
        id: LeaseId::generate().into(),
        org_id: org.to_owned(),
        property_id: property_id.to_owned(),
        unit_id: format!("unit_{}", ulid::Ulid::generate()),
        primary_tenant_id: tenant_id.to_owned(),
        tenant_ids: vec![tenant_id.to_owned()],
        start_date: start,
        end_date: end,
        effective_end: end,
        move_in: None,
        move_out: None,
        currency: Currency::parse("USD").unwrap(),
        rent_amount: Money(240_000),
        due_day,
        deposit: Money(0),
        renewal_of: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// Runs `work` with the counters and the heap peak reset, and prints what it took.
async fn measured<T>(label: &str, counter: &CallCounter, work: impl std::future::Future<Output = T>) -> (T, Duration) {
    counter.reset();
    let heap = HeapPeak::start();
    let started = Instant::now();
    let out = work.await;
    let elapsed = started.elapsed();
    let peak = heap.peak();
    let (total, calls, items) = counter.report();
    println!(
        "{label}: {:.2} s, peak heap {}, DynamoDB calls {total} {calls:?}, items returned {items}",
        elapsed.as_secs_f64(),
        mib(peak)
    );
    (out, elapsed)
}

#[tokio::main]
async fn main() {
    let mut app = app().await;
    let counter = CallCounter::default();
    app.services.store = counter.store(&app.services.store);
    let services = app.services.clone();
    let today = calendar::today();

    // 1. The rent job over 10,000 leases due on the 5th of a month in 2031
    let day = Date::from_calendar_date(2031, time::Month::March, 5).unwrap();
    let org = new_org();
    let property_id = PropertyId::generate().to_string();
    let started = Instant::now();
    let leases: Vec<Lease> = (0..LEASES)
        .map(|_| {
            lease(&org, &property_id, TenantId::generate().as_str(), 5, day - Days::days(60), day + Days::days(300))
        })
        .collect();
    services.store.leases().put_unchecked(&leases).await.unwrap();
    drop(leases);
    println!("seeded {LEASES} leases due on the 5th in {:.1} s", started.elapsed().as_secs_f64());
    let now = time_format::now();
    let (tick, first) =
        measured("rent job, 10,000 leases due", &counter, RentJob::new(&services).run_scheduled(day, now)).await;
    println!("  {}", tick.unwrap());
    println!("  {:.0} leases/s", LEASES as f64 / first.as_secs_f64());
    let later = day + Days::days(1);
    let (_, _) = measured(
        "rent job, the next day (none due; the late-fee pass reads the 10,000 open invoices, no policy)",
        &counter,
        RentJob::new(&services).run_scheduled(later, now),
    )
    .await;
    let (run, _) = measured(
        "the same day again for the organization (all 10,000 already issued)",
        &counter,
        RentJob::new(&services).run_for_organization(&org, day),
    )
    .await;
    let run = run.unwrap();
    println!("  issued {}, already issued {}", run.issued, run.already_issued);

    // 2. 10,000 renters, 500 with a rent invoice past due
    let org = new_org();
    let property = PropertyId::generate();
    let now = time_format::now();
    let due = {
        let mut d = today - Days::days(3);
        while d.day() > 28 {
            d -= Days::days(1);
        }
        d
    };
    let other_day = if due.day() == 1 { 2 } else { 1 };
    let mut tenants = Vec::with_capacity(RENTERS);
    let mut leases = Vec::with_capacity(RENTERS);
    for i in 0..RENTERS {
        let fields = TenantFields {
            name: format!("Renter {i}"),
            email: format!("renter{i}@example.com"),
            phone: None,
            user_id: None,
        };
        let mut tenant = Tenant::new(&org, &property, fields, now);
        let due_day = if i < OVERDUE { due.day() } else { other_day };
        let lease = lease(&org, property.as_str(), &tenant.id, due_day, due - Days::days(60), due + Days::days(300));
        tenant.lease_ids.push(lease.id.clone());
        tenants.push(tenant);
        leases.push(lease);
    }
    services.store.tenants().put_unchecked(&tenants).await.unwrap();
    services.store.leases().put_unchecked(&leases).await.unwrap();
    drop((tenants, leases));
    let seeded = RentJob::new(&services).run_for_organization(&org, due).await.unwrap();
    println!("seeded {RENTERS} renters, {} with rent due {} (unpaid)", seeded.issued, calendar::format_date(due));

    let router = tenants::router(services.clone());
    let token = app.token(&org, &["OrganizationOwner"]);
    let mut latencies = Vec::new();
    for run in 0..RUNS {
        let request = Request::get("/api/ai/renters/overdue?page_size=100")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let ((status, renters), elapsed) =
            measured(&format!("GET /api/ai/renters/overdue run {run}"), &counter, async {
                let response = router.clone().oneshot(request).await.unwrap();
                let status = response.status();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                (status, value["renters"].as_array().map_or(0, Vec::len))
            })
            .await;
        assert_eq!(status, StatusCode::OK);
        println!("  {renters} renters on the first page");
        latencies.push(elapsed);
    }
    latencies.sort();
    println!(
        "GET /api/ai/renters/overdue, {RENTERS} renters, {OVERDUE} overdue: median {:.1} ms of {RUNS} runs",
        latencies[RUNS / 2].as_secs_f64() * 1000.0
    );
}
