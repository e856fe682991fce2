//! The rent job: one rent invoice per lease and period however often it runs, credits
//! consumed by the next charge, late fees once after the grace days and within their
//! cap, the overdue index behind `/api/ai/renters/overdue`, and who may run it.

use doorstep_tests::{TestApp, TestResponse, app, new_org};
use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::domain::calendar;
use time::{Date, Duration};

use crate::leasing::{property, tenant, unit};

fn today() -> Date {
    calendar::today()
}

/// The latest day at or before `day` that a lease can be due on (1 to 28).
fn due_day_at_or_before(mut day: Date) -> Date {
    while day.day() > 28 {
        day -= Duration::days(1);
    }
    day
}

fn ymd(date: Date) -> String {
    calendar::format_date(date)
}

/// A unit, tenant and lease (rent 2400, due on `due_day`) from `start` to `end` in
/// `prop`: (lease id, tenant id).
async fn lease_due_on(
    app: &TestApp,
    token: &str,
    prop: &str,
    number: &str,
    due_day: u8,
    start: Date,
    end: Date,
) -> (String, String) {
    let unit = unit(app, token, prop, json!({"unit_number": number, "possession_start": "2001-01-01"})).await;
    let unit_id = unit["id"].as_str().unwrap();
    let email = format!("{}@example.com", number.to_lowercase());
    let ten = tenant(app, token, prop, &format!("Renter {number}"), &email, "+15550123").await;
    let body = json!({"unit_id": unit_id, "start_date": ymd(start), "end_date": ymd(end),
        "rent_amount": 2400, "due_day": due_day});
    let created = app.post(&format!("/api/v1/properties/{prop}/tenants/{ten}/lease"), token, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    (created.body["data"]["id"].as_str().unwrap().to_owned(), ten)
}

/// A lease current on `day` and due on its day of the month.
async fn lease_due_at(app: &TestApp, token: &str, prop: &str, number: &str, day: Date) -> (String, String) {
    lease_due_on(app, token, prop, number, day.day(), day - Duration::days(40), day + Duration::days(300)).await
}

async fn run(app: &TestApp, token: &str, day: Date) -> TestResponse {
    app.post("/api/v1/financial/rent-runs", token, &json!({"date": ymd(day)})).await
}

async fn run_ok(app: &TestApp, token: &str, day: Date) -> Value {
    let response = run(app, token, day).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"].clone()
}

async fn invoices_of(app: &TestApp, token: &str, lease_id: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/financial/invoices?lease_id={lease_id}&page_size=100"), token).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["data"].as_array().unwrap().clone()
}

fn cents(value: &Value) -> i64 {
    (value.as_f64().unwrap() * 100.0).round() as i64
}

fn counts(run: &Value) -> (u64, u64, u64, u64, u64) {
    let n = |name: &str| run[name].as_u64().unwrap();
    (n("issued"), n("already_issued"), n("late_fees"), n("late_fees_already"), n("errors"))
}

#[tokio::test]
async fn the_rent_job_run_ten_times_at_once_and_again_issues_one_invoice_per_lease_and_period() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let day = due_day_at_or_before(today() - Duration::days(1));
    let mut leases = Vec::new();
    for number in ["R1", "R2", "R3"] {
        leases.push(lease_due_at(&app, &token, &prop, number, day).await.0);
    }
    // A lease due on another day is left alone.
    let other_day = if day.day() == 1 { 2 } else { 1 };
    let (other, _) =
        lease_due_on(&app, &token, &prop, "R4", other_day, day - Duration::days(40), day + Duration::days(300)).await;

    // When ten runs of the same day start at once
    let runs = join_all((0..10).map(|_| run(&app, &token, day))).await;
    assert!(
        runs.iter().all(|r| r.status == StatusCode::CREATED),
        "{:?}",
        runs.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let issued: u64 = runs.iter().map(|r| r.body["data"]["issued"].as_u64().unwrap()).sum();
    let already: u64 = runs.iter().map(|r| r.body["data"]["already_issued"].as_u64().unwrap()).sum();
    assert_eq!(issued, 3);
    assert_eq!(issued + already, 30);

    // and once more, later
    let again = run_ok(&app, &token, day).await;
    assert_eq!(counts(&again), (0, 3, 0, 0, 0));
    assert_eq!(again["status"], "finished");

    for lease_id in &leases {
        let invoices = invoices_of(&app, &token, lease_id).await;
        assert_eq!(invoices.len(), 1, "{invoices:?}");
        let invoice = &invoices[0];
        assert_eq!(invoice["due_date"], ymd(day));
        assert_eq!(
            invoice["line_items"],
            json!([{"description": format!("Rent {:04}-{:02}", day.year(), u8::from(day.month())), "category": "rent", "amount": 2400.0}])
        );
        let ledger = app.get(&format!("/api/v1/financial/ledgers/{lease_id}"), &token).await;
        assert_eq!(cents(&ledger.body["data"]["balance"]), 240_000);
        assert_eq!(ledger.body["data"]["entry_count"], 1);
    }
    assert!(invoices_of(&app, &token, &other).await.is_empty());
}

#[tokio::test]
async fn an_overpayment_becomes_a_credit_that_the_next_rent_charge_consumes() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let day = due_day_at_or_before(today() - Duration::days(1));
    let (lease_id, _) = lease_due_at(&app, &token, &prop, "C1", day).await;

    // Given 3000 paid with nothing owed: a credit of 3000
    let body = json!({"lease_id": lease_id, "amount": 3000, "method": "bank_transfer"});
    let headers = [("idempotency-key", "advance-payment")];
    let paid = app.call(Method::POST, "/api/v1/financial/payments", Some(&token), Some(&body), &headers).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);

    // When the rent of 2400 is charged
    assert_eq!(counts(&run_ok(&app, &token, day).await), (1, 0, 0, 0, 0));

    // the credit pays it in full, and 600 of credit is left
    let invoices = invoices_of(&app, &token, &lease_id).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["status"], "paid");
    assert_eq!((cents(&invoices[0]["amount_paid"]), cents(&invoices[0]["amount_due"])), (240_000, 0));
    let ledger = app.get(&format!("/api/v1/financial/ledgers/{lease_id}"), &token).await;
    assert_eq!(cents(&ledger.body["data"]["balance"]), -60_000);
    assert_eq!(ledger.body["data"]["payment_status"], "credit");
    // A paid invoice is not overdue, nor late
    let overdue = app.get("/api/ai/renters/overdue", &token).await;
    assert_eq!(overdue.body["renters"], json!([]));
}

#[tokio::test]
async fn a_late_fee_is_charged_once_after_the_grace_days_and_within_its_cap() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let due = due_day_at_or_before(today() - Duration::days(10));
    let (lease_id, _) = lease_due_at(&app, &token, &prop, "L1", due).await;
    // 10 % of 2400 is 240, capped at 200
    let policy = json!({"grace_days": 3, "type": "percent", "percent": 10, "max_amount": 200});
    let put = app
        .call(Method::PUT, &format!("/api/v1/financial/late-fee-policies/{prop}"), Some(&token), Some(&policy), &[])
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["data"]["percent"], json!(10.0));
    let read = app.get(&format!("/api/v1/financial/late-fee-policies/{prop}"), &token).await;
    assert_eq!(
        (read.body["data"]["grace_days"].as_u64(), read.body["data"]["type"].as_str()),
        (Some(3), Some("percent"))
    );

    assert_eq!(counts(&run_ok(&app, &token, due).await).0, 1);
    // Within the grace days: no fee
    let within = run_ok(&app, &token, due + Duration::days(3)).await;
    assert_eq!(counts(&within), (0, 0, 0, 0, 0));
    assert_eq!(invoices_of(&app, &token, &lease_id).await.len(), 1);

    // The day after them: one fee, capped
    let after = run_ok(&app, &token, due + Duration::days(4)).await;
    assert_eq!(counts(&after), (0, 0, 1, 0, 0));
    // and never again
    let again = run_ok(&app, &token, due + Duration::days(5)).await;
    assert_eq!(counts(&again), (0, 0, 0, 1, 0));
    let twice = join_all((0..5).map(|_| run(&app, &token, due + Duration::days(6)))).await;
    assert!(
        twice.iter().all(|r| r.body["data"]["late_fees"] == 0),
        "{:?}",
        twice.iter().map(|r| &r.body).collect::<Vec<_>>()
    );

    let invoices = invoices_of(&app, &token, &lease_id).await;
    let fees: Vec<&Value> = invoices.iter().filter(|i| i["line_items"][0]["category"] == "late_fee").collect();
    assert_eq!(fees.len(), 1, "{invoices:?}");
    assert_eq!(cents(&fees[0]["total"]), 20_000);
    assert_eq!(fees[0]["due_date"], ymd(due + Duration::days(4)));
    let ledger = app.get(&format!("/api/v1/financial/ledgers/{lease_id}"), &token).await;
    assert_eq!(cents(&ledger.body["data"]["balance"]), 260_000);
}

#[tokio::test]
async fn a_flat_late_fee_skips_a_paid_invoice() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let due = due_day_at_or_before(today() - Duration::days(10));
    let (paid_lease, _) = lease_due_at(&app, &token, &prop, "F1", due).await;
    let (late_lease, _) = lease_due_at(&app, &token, &prop, "F2", due).await;
    let policy = json!({"grace_days": 0, "type": "flat", "amount": 75.5});
    let put = app
        .call(Method::PUT, &format!("/api/v1/financial/late-fee-policies/{prop}"), Some(&token), Some(&policy), &[])
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    run_ok(&app, &token, due).await;
    let body = json!({"lease_id": paid_lease, "amount": 2400, "method": "cash"});
    let paid = app
        .call(
            Method::POST,
            "/api/v1/financial/payments",
            Some(&token),
            Some(&body),
            &[("idempotency-key", "rent-in-full")],
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);

    let after = run_ok(&app, &token, due + Duration::days(1)).await;
    assert_eq!(counts(&after), (0, 0, 1, 0, 0));
    assert_eq!(invoices_of(&app, &token, &paid_lease).await.len(), 1);
    let late = invoices_of(&app, &token, &late_lease).await;
    let fee = late.iter().find(|i| i["line_items"][0]["category"] == "late_fee").expect("a late fee");
    assert_eq!(cents(&fee["total"]), 7_550);
}

#[tokio::test]
async fn overdue_renters_are_exactly_those_with_an_invoice_unpaid_past_its_due_date() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let yesterday = due_day_at_or_before(today() - Duration::days(1));
    let start = today() - Duration::days(60);
    let end = today() + Duration::days(300);
    let (late, late_tenant) = lease_due_on(&app, &token, &prop, "O1", 1, start, end).await;
    let (due_today, _) = lease_due_on(&app, &token, &prop, "O2", 1, start, end).await;
    let (paid, _) = lease_due_on(&app, &token, &prop, "O3", 1, start, end).await;
    let (partly, partly_tenant) = lease_due_on(&app, &token, &prop, "O4", 1, start, end).await;
    let (_, no_invoice) = lease_due_on(&app, &token, &prop, "O5", 1, start, end).await;
    let issue = |lease: &str, due: Date| {
        json!({"lease_id": lease, "due_date": ymd(due), "issue_date": ymd(start),
            "line_items": [{"description": "Rent", "category": "rent", "amount": 1000}]})
    };
    for (lease, due) in [(&late, yesterday), (&due_today, today()), (&paid, yesterday), (&partly, yesterday)] {
        let created = app.post("/api/v1/financial/invoices", &token, &issue(lease, due)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    for (lease, amount, key) in [(&paid, 1000, "pay-all"), (&partly, 400, "pay-part")] {
        let body = json!({"lease_id": lease, "amount": amount, "method": "cash"});
        let paid = app
            .call(Method::POST, "/api/v1/financial/payments", Some(&token), Some(&body), &[("idempotency-key", key)])
            .await;
        assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    }

    let overdue = app.get("/api/ai/renters/overdue", &token).await;
    assert_eq!(overdue.status, StatusCode::OK, "{:?}", overdue.body);
    let mut expected = vec![late_tenant.clone(), partly_tenant.clone()];
    expected.sort();
    let ids: Vec<&str> =
        overdue.body["renters"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected, "{:?}", overdue.body);
    let first = &overdue.body["renters"][0];
    assert_eq!((first["payment_status"].as_str(), first["rent_amount"].as_i64()), (Some("overdue"), Some(2400)));
    assert!(!ids.contains(&no_invoice.as_str()));

    // One renter a page: the Link header leads to the other
    let one = app.get("/api/ai/renters/overdue?page_size=1", &token).await;
    assert_eq!(one.body["renters"].as_array().unwrap().len(), 1);
    let link = one.headers.get(http::header::LINK).expect("a next link").to_str().unwrap().to_owned();
    let next = link.trim_start_matches('<').split('>').next().unwrap().to_owned();
    let second = app.get(&next, &token).await;
    assert_eq!(second.body["renters"][0]["id"], expected[1].as_str(), "{:?}", second.body);
    assert!(second.headers.get(http::header::LINK).is_none());
}

#[tokio::test]
async fn a_renter_becomes_overdue_the_day_after_the_due_date_without_any_write() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let due = due_day_at_or_before(today() + Duration::days(5));
    let (lease_id, tenant_id) =
        lease_due_on(&app, &token, &prop, "D1", due.day(), today() - Duration::days(40), today() + Duration::days(300))
            .await;
    let body = json!({"lease_id": lease_id, "due_date": ymd(due), "issue_date": ymd(today()),
        "line_items": [{"description": "Rent", "category": "rent", "amount": 1000}]});
    assert_eq!(app.post("/api/v1/financial/invoices", &token, &body).await.status, StatusCode::CREATED);

    // The index is read as of a day: on the due date the renter is not overdue, the next day they are.
    let index = app.services.store.rent_runs();
    assert!(index.overdue_tenant_ids(&org, due).await.unwrap().is_empty());
    let next_day = index.overdue_tenant_ids(&org, due + Duration::days(1)).await.unwrap();
    assert_eq!(next_day.into_iter().collect::<Vec<_>>(), vec![tenant_id]);
    assert_eq!(app.get("/api/ai/renters/overdue", &token).await.body["renters"], json!([]));
}

/// A day from 2003 to 2019 (due on the 1st to the 28th), different on each run, so the
/// scheduled run over every organization finds only this test's leases.
fn a_past_day() -> Date {
    let seed = u64::try_from(ulid::Ulid::generate().random() % 6000).unwrap();
    let day =
        Date::from_calendar_date(2003, time::Month::January, 1).unwrap() + Duration::days(i64::try_from(seed).unwrap());
    due_day_at_or_before(day)
}

fn scheduled_event(day: Date) -> Value {
    json!({"version": "0", "id": ulid::Ulid::generate().to_string(), "detail-type": "Scheduled Event",
        "source": "aws.events", "time": format!("{}T00:00:00Z", ymd(day)),
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/doorstep-test-FinancialFunctionRentRunDaily-X"],
        "detail": {}})
}

#[tokio::test]
async fn the_scheduled_run_delivered_twice_and_at_once_issues_once_and_is_listed() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let day = a_past_day();
    let (lease_id, _) = lease_due_at(&app, &token, &prop, "S1", day).await;
    let now = time::OffsetDateTime::now_utc();

    // Delivered three times at once, then once more
    let ticks = join_all((0..3).map(|_| financial::run_job(&app.services, scheduled_event(day), now))).await;
    let states: Vec<String> = ticks.into_iter().map(|t| t.unwrap()["state"].as_str().unwrap().to_owned()).collect();
    assert_eq!(states.iter().filter(|s| *s == "finished").count(), 1, "{states:?}");
    let later = financial::run_job(&app.services, scheduled_event(day), now).await.unwrap();
    assert_eq!(later["state"], "finished_or_running");
    assert_eq!(invoices_of(&app, &token, &lease_id).await.len(), 1);

    // The organization sees the scheduled run
    let listed = app.get("/api/v1/financial/rent-runs", &token).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let runs = listed.body["data"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0]["trigger"].as_str(), runs[0]["status"].as_str()), (Some("scheduled"), Some("finished")));
    assert_eq!(counts(&runs[0]), (1, 0, 0, 0, 0));
    let one = app.get(&format!("/api/v1/financial/rent-runs/{}", runs[0]["id"].as_str().unwrap()), &token).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["data"]["date"], ymd(day));
    // A requested run of the same day finds the rent issued
    assert_eq!(counts(&run_ok(&app, &token, day).await), (0, 1, 0, 0, 0));
    let listed = app.get("/api/v1/financial/rent-runs", &token).await;
    assert_eq!(listed.body["data"][0]["trigger"], "requested");
}

#[tokio::test]
async fn a_scheduled_run_that_runs_out_of_time_continues_from_its_checkpoint() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let day = a_past_day();
    let (lease_id, _) = lease_due_at(&app, &token, &prop, "K1", day).await;
    let now = time::OffsetDateTime::now_utc();
    let job = financial::rent_job::RentJob::with_budget(&app.services, std::time::Duration::from_secs(600), 1);

    // Each tick reads one page, records where it stopped, and the next tick carries on
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("finished") && states.len() < 1_000 {
        let tick = job.run_scheduled(day, now).await.unwrap();
        states.push(tick["state"].as_str().unwrap().to_owned());
    }
    // At least a page of leases and one per late-fee shard
    let shards = shared::store::rent_runs::LATE_FEE_SHARDS as usize;
    assert!(states.len() > shards, "{states:?}");
    assert!(states[..states.len() - 1].iter().all(|s| s == "continues"), "{states:?}");
    assert_eq!(states.last().map(String::as_str), Some("finished"));
    assert_eq!(invoices_of(&app, &token, &lease_id).await.len(), 1);
    let listed = app.get("/api/v1/financial/rent-runs", &token).await;
    assert_eq!(counts(&listed.body["data"][0]), (1, 0, 0, 0, 0));
}

#[tokio::test]
async fn rent_runs_need_their_permission_and_stay_in_their_organization() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let prop = property(&app, &owner).await;
    let day = due_day_at_or_before(today() - Duration::days(1));
    let created = run_ok(&app, &owner, day).await;
    let run_id = created["id"].as_str().unwrap();

    for roles in [["PropertyOwner"], ["Tenant"], ["MaintenanceStaff"]] {
        let token = app.token(&org, &roles);
        assert_eq!(run(&app, &token, day).await.status, StatusCode::FORBIDDEN, "{roles:?}");
        assert_eq!(app.get("/api/v1/financial/rent-runs", &token).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            app.get(&format!("/api/v1/financial/rent-runs/{run_id}"), &token).await.status,
            StatusCode::FORBIDDEN
        );
        let policy = app.get(&format!("/api/v1/financial/late-fee-policies/{prop}"), &token).await;
        assert_eq!(policy.status, StatusCode::FORBIDDEN);
    }
    let manager = app.token(&org, &["PropertyManager"]);
    assert_eq!(app.get(&format!("/api/v1/financial/rent-runs/{run_id}"), &manager).await.status, StatusCode::OK);

    // Another organization sees neither the run nor the property's policy
    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let foreign = app.get(&format!("/api/v1/financial/rent-runs/{run_id}"), &stranger).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    assert_eq!(app.get("/api/v1/financial/rent-runs", &stranger).await.body["data"], json!([]));
    let policy = json!({"grace_days": 1, "type": "flat", "amount": 10});
    let put = app
        .call(Method::PUT, &format!("/api/v1/financial/late-fee-policies/{prop}"), Some(&stranger), Some(&policy), &[])
        .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/financial/rent-runs/rrun_nope", &owner).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_rent_run_and_policy_input_is_422_with_the_field() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let field = |r: &TestResponse| r.body["error"]["details"][0]["field"].as_str().map(str::to_owned);
    for (body, name) in
        [(json!({"date": "2026-02-30"}), "date"), (json!({"date": ymd(today() + Duration::days(40))}), "date")]
    {
        let response = app.post("/api/v1/financial/rent-runs", &token, &body).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", response.body);
        assert_eq!(field(&response).as_deref(), Some(name));
    }
    let unknown = app.post("/api/v1/financial/rent-runs", &token, &json!({"day": "2026-01-01"})).await;
    assert!(unknown.status.is_client_error(), "{:?}", unknown.body);
    for (policy, name) in [
        (json!({"grace_days": 61, "type": "flat", "amount": 10}), "grace_days"),
        (json!({"grace_days": 1, "type": "flat"}), "amount"),
        (json!({"grace_days": 1, "type": "percent", "percent": 100.01}), "percent"),
        (json!({"grace_days": 1, "type": "percent", "percent": 5, "amount": 3}), "amount"),
        (json!({"grace_days": 1, "type": "flat", "amount": 10, "max_amount": 0}), "max_amount"),
    ] {
        let response = app
            .call(Method::PUT, &format!("/api/v1/financial/late-fee-policies/{prop}"), Some(&token), Some(&policy), &[])
            .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{policy} {:?}", response.body);
        assert_eq!(field(&response).as_deref(), Some(name), "{policy}");
    }
    assert_eq!(
        app.get(&format!("/api/v1/financial/late-fee-policies/{prop}"), &token).await.status,
        StatusCode::NOT_FOUND
    );
}
