//! The tenant ledger: invoices and payments move a lease's balance and payment status in
//! one transaction, races keep the balance equal to the ledger, overpayments become
//! credits, and a Tenant reaches only their own lease.

use doorstep_tests::{TestApp, TestResponse, app, claims, new_org};
use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::leasing::{day, lease, property, tenant, terms, unit_id};

/// An organization with one current lease: (owner token, lease id, primary tenant id).
pub(crate) async fn leased(app: &TestApp) -> (String, String, String) {
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let (lease_id, tenant_id) = lease_in(app, &token, "A1", "payer@example.com").await;
    (token, lease_id, tenant_id)
}

/// A new unit, tenant and current lease in a new property of the token's organization.
pub(crate) async fn lease_in(app: &TestApp, token: &str, unit: &str, email: &str) -> (String, String) {
    let prop = property(app, token).await;
    let unit = unit_id(app, token, &prop, unit).await;
    let ten = tenant(app, token, &prop, "Pat Payer", email, "+15550123").await;
    let created = lease(app, token, &prop, &ten, terms(&unit, &day(-30), &day(335))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    (created.body["data"]["id"].as_str().unwrap().to_owned(), ten)
}

pub(crate) async fn invoice(app: &TestApp, token: &str, lease_id: &str, amount: f64, due: &str) -> TestResponse {
    let body = json!({"lease_id": lease_id, "due_date": due, "issue_date": day(-40),
        "line_items": [{"description": "Rent", "category": "rent", "amount": amount}]});
    app.post("/api/v1/financial/invoices", token, &body).await
}

pub(crate) async fn invoice_id(app: &TestApp, token: &str, lease_id: &str, amount: f64, due: &str) -> String {
    let created = invoice(app, token, lease_id, amount, due).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["data"]["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn pay(app: &TestApp, token: &str, key: &str, body: &Value) -> TestResponse {
    let headers = [("idempotency-key", key)];
    app.call(Method::POST, "/api/v1/financial/payments", Some(token), Some(body), &headers).await
}

pub(crate) fn payment(lease_id: &str, amount: f64) -> Value {
    json!({"lease_id": lease_id, "amount": amount, "method": "bank_transfer"})
}

pub(crate) async fn ledger(app: &TestApp, token: &str, lease_id: &str) -> Value {
    let response = app.get(&format!("/api/v1/financial/ledgers/{lease_id}?page_size=100"), token).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body["data"].clone()
}

/// Cents of a two-place decimal as the API shows it.
pub(crate) fn cents(value: &Value) -> i64 {
    (value.as_f64().unwrap() * 100.0).round() as i64
}

/// The balance the entries add up to: charges and refunds raise it, payments and credits lower it.
pub(crate) fn sum_of_entries(ledger: &Value) -> i64 {
    ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match e["kind"].as_str().unwrap() {
            "charge" | "refund" => cents(&e["amount"]),
            _ => -cents(&e["amount"]),
        })
        .sum()
}

#[tokio::test]
async fn a_partial_payment_leaves_partial_and_a_second_clears_it_to_current() {
    let app = app().await;
    let (token, lease_id, tenant_id) = leased(&app).await;
    let inv = invoice_id(&app, &token, &lease_id, 1000.0, &day(10)).await;
    assert_eq!(ledger(&app, &token, &lease_id).await["payment_status"], "current");

    // When 400 of 1000 is paid
    let first = pay(&app, &token, "partial-1", &payment(&lease_id, 400.0)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["data"]["applied_to"], json!([{"invoice_id": inv, "amount": 400.0}]));
    assert!(first.text.contains(r#""amount":400.00"#), "{}", first.text);
    let after_first = ledger(&app, &token, &lease_id).await;
    assert_eq!((after_first["payment_status"].as_str(), cents(&after_first["balance"])), (Some("partial"), 60_000));
    let invoice = app.get(&format!("/api/v1/financial/invoices/{inv}"), &token).await;
    assert_eq!(invoice.body["data"]["status"], "partially_paid");
    assert_eq!(cents(&invoice.body["data"]["amount_due"]), 60_000);
    let renters = app.get("/api/ai/renters", &token).await;
    assert_eq!(renters.body["renters"][0]["id"], tenant_id.as_str());
    assert_eq!(renters.body["renters"][0]["payment_status"], "partial");

    // and then the other 600
    let second = pay(&app, &token, "partial-2", &payment(&lease_id, 600.0)).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    let cleared = ledger(&app, &token, &lease_id).await;
    assert_eq!((cleared["payment_status"].as_str(), cents(&cleared["balance"])), (Some("current"), 0));
    assert_eq!(cleared["entry_count"], 3);
    assert_eq!(sum_of_entries(&cleared), 0);
    let invoice = app.get(&format!("/api/v1/financial/invoices/{inv}"), &token).await;
    assert_eq!(
        (invoice.body["data"]["status"].as_str(), invoice.body["data"]["version"].as_u64()),
        (Some("paid"), Some(3))
    );
    assert_eq!(app.get("/api/ai/renters", &token).await.body["renters"][0]["payment_status"], "current");
    let paid = app.get(&format!("/api/v1/financial/invoices?lease_id={lease_id}&status=paid"), &token).await;
    assert_eq!(paid.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn twenty_payments_racing_on_one_invoice_leave_the_balance_equal_to_the_ledger() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let inv = invoice_id(&app, &token, &lease_id, 1500.0, &day(10)).await;

    // 20 payments of 100 at once on a 1500 invoice
    let keys: Vec<String> = (0..20).map(|i| format!("race-{i}")).collect();
    let results = join_all(keys.iter().map(|key| {
        let (app, token, body) = (&app, &token, payment(&lease_id, 100.0));
        async move { pay(app, token, key, &body).await }
    }))
    .await;
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");

    let ledger = ledger(&app, &token, &lease_id).await;
    assert_eq!(ledger["entry_count"], 21);
    assert_eq!(cents(&ledger["balance"]), sum_of_entries(&ledger));
    assert_eq!(cents(&ledger["balance"]), -50_000);
    assert_eq!(ledger["payment_status"], "credit");
    let invoice = app.get(&format!("/api/v1/financial/invoices/{inv}"), &token).await;
    assert_eq!(
        (invoice.body["data"]["status"].as_str(), cents(&invoice.body["data"]["amount_paid"])),
        (Some("paid"), 150_000)
    );
    let credited: i64 = results.iter().map(|r| cents(&r.body["data"]["credited"])).sum();
    assert_eq!(credited, 50_000);
    let listed = app.get(&format!("/api/v1/financial/payments?lease_id={lease_id}&page_size=100"), &token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn an_overpayment_becomes_a_credit_that_pays_the_next_invoice() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    invoice_id(&app, &token, &lease_id, 1000.0, &day(10)).await;

    let over = pay(&app, &token, "over-1", &payment(&lease_id, 1250.5)).await;
    assert_eq!(over.status, StatusCode::CREATED, "{:?}", over.body);
    assert_eq!(cents(&over.body["data"]["credited"]), 25_050);
    let credit = ledger(&app, &token, &lease_id).await;
    assert_eq!((credit["payment_status"].as_str(), cents(&credit["balance"])), (Some("credit"), -25_050));

    // The next invoice is paid from the credit first
    let next = invoice(&app, &token, &lease_id, 1000.0, &day(40)).await;
    assert_eq!(next.status, StatusCode::CREATED, "{:?}", next.body);
    assert_eq!(
        (next.body["data"]["status"].as_str(), cents(&next.body["data"]["amount_paid"])),
        (Some("partially_paid"), 25_050)
    );
    let owed = ledger(&app, &token, &lease_id).await;
    assert_eq!((owed["payment_status"].as_str(), cents(&owed["balance"])), (Some("partial"), 74_950));
    assert_eq!(sum_of_entries(&owed), 74_950);
}

#[tokio::test]
async fn a_tenant_pays_and_sees_only_their_own_lease() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (mine, me) = lease_in(&app, &token, "T1", "me@example.com").await;
    let (theirs, _) = lease_in(&app, &token, "T2", "them@example.com").await;
    let their_invoice = invoice_id(&app, &token, &theirs, 500.0, &day(5)).await;
    invoice_id(&app, &token, &mine, 700.0, &day(5)).await;
    let mut as_tenant = claims(&app.services.config, &org, &["Tenant"]);
    as_tenant.tenant_profile_id = Some(me);
    let tenant_token = app.sign(&as_tenant);

    // Another lease's id answers 404, and nothing is recorded
    let refused = pay(&app, &tenant_token, "tenant-1", &payment(&theirs, 500.0)).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{:?}", refused.body);
    assert_eq!(cents(&ledger(&app, &token, &theirs).await["balance"]), 50_000);
    assert_eq!(
        app.get(&format!("/api/v1/financial/invoices/{their_invoice}"), &tenant_token).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/financial/ledgers/{theirs}"), &tenant_token).await.status,
        StatusCode::NOT_FOUND
    );

    // Their own lease they can pay, and their listings show only it
    let paid = pay(&app, &tenant_token, "tenant-2", &payment(&mine, 700.0)).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    let invoices = app.get("/api/v1/financial/invoices", &tenant_token).await;
    let leases: Vec<&Value> = invoices.body["data"].as_array().unwrap().iter().map(|i| &i["lease_id"]).collect();
    assert_eq!(leases, vec![&Value::from(mine.as_str())]);
    let payments = app.get("/api/v1/financial/payments", &tenant_token).await;
    assert_eq!(payments.body["data"].as_array().unwrap().len(), 1);
    // and cannot issue invoices
    assert_eq!(invoice(&app, &tenant_token, &mine, 1.0, &day(5)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_input_is_422_with_the_field() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let field = |r: &TestResponse| r.body["error"]["details"][0]["field"].as_str().unwrap_or_default().to_owned();

    let cases = [
        (json!({"lease_id": lease_id, "amount": -5, "method": "cash"}), "amount"),
        (json!({"lease_id": lease_id, "amount": 0, "method": "cash"}), "amount"),
        (json!({"lease_id": lease_id, "amount": 10.005, "method": "cash"}), "amount"),
        (json!({"lease_id": lease_id, "amount": 10, "method": "bitcoin"}), "method"),
        (json!({"lease_id": "lease_nope", "amount": 10, "method": "cash"}), "lease_id"),
        (json!({"lease_id": lease_id, "amount": 10, "method": "cash", "currency": "EUR"}), "currency"),
        (json!({"lease_id": lease_id, "amount": 10, "method": "cash", "received_on": "yesterday"}), "received_on"),
        (
            json!({"lease_id": lease_id, "amount": 10, "method": "cash", "invoice_ids": ["inv_01JD3M00000000000000000001"]}),
            "invoice_ids",
        ),
        (json!({"lease_id": lease_id, "amount": 10, "method": "cash", "status": "completed"}), "status"),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let response = pay(&app, &token, &format!("bad-{i}"), body).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", response.body);
        assert_eq!(field(&response), *expected, "{body}: {:?}", response.body);
    }
    let invoices = [
        (json!({"lease_id": lease_id, "due_date": day(5), "line_items": []}), "line_items"),
        (
            json!({"lease_id": lease_id, "due_date": "2025-02-30", "line_items": [{"description": "Rent", "category": "rent", "amount": 1}]}),
            "due_date",
        ),
        (
            json!({"lease_id": lease_id, "due_date": day(5), "line_items": [{"description": "Rent", "category": "parking", "amount": 1}]}),
            "line_items[0].category",
        ),
        (
            json!({"lease_id": lease_id, "due_date": day(5), "line_items": [{"description": "", "category": "rent", "amount": 1}]}),
            "line_items[0].description",
        ),
        (
            json!({"lease_id": lease_id, "due_date": day(-50), "line_items": [{"description": "Rent", "category": "rent", "amount": 1}]}),
            "due_date",
        ),
    ];
    for (body, expected) in invoices {
        let response = app.post("/api/v1/financial/invoices", &token, &body).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", response.body);
        assert_eq!(field(&response), expected, "{body}: {:?}", response.body);
    }
    // A payment without an Idempotency-Key is refused before anything is recorded
    let keyless = app.post("/api/v1/financial/payments", &token, &payment(&lease_id, 10.0)).await;
    assert_eq!((keyless.status, keyless.error_code()), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let ledger = ledger(&app, &token, &lease_id).await;
    assert_eq!((ledger["entry_count"].as_u64(), cents(&ledger["balance"])), (Some(0), 0));
}

#[tokio::test]
async fn a_retried_payment_is_recorded_once_and_a_reused_key_with_another_body_is_422() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    invoice_id(&app, &token, &lease_id, 300.0, &day(10)).await;
    let first = pay(&app, &token, "retry-1", &payment(&lease_id, 100.0)).await;
    let again = pay(&app, &token, "retry-1", &payment(&lease_id, 100.0)).await;
    assert_eq!((first.status, again.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["data"]["id"], first.body["data"]["id"]);
    let other = pay(&app, &token, "retry-1", &payment(&lease_id, 200.0)).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ledger = ledger(&app, &token, &lease_id).await;
    assert_eq!((ledger["entry_count"].as_u64(), cents(&ledger["balance"])), (Some(2), 20_000));
}

#[tokio::test]
async fn cancelling_credits_an_unpaid_invoice_and_refuses_a_paid_one_until_refunded() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let unpaid = invoice_id(&app, &token, &lease_id, 250.0, &day(-1)).await;
    let paid = invoice_id(&app, &token, &lease_id, 100.0, &day(-2)).await;

    // Unpaid past the due date reads as overdue, without any write
    let shown = app.get(&format!("/api/v1/financial/invoices/{unpaid}"), &token).await;
    assert_eq!(shown.body["data"]["status"], "overdue");
    let overdue = app.get(&format!("/api/v1/financial/invoices?lease_id={lease_id}&status=overdue"), &token).await;
    assert_eq!(overdue.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(ledger(&app, &token, &lease_id).await["payment_status"], "overdue");

    // Pay the named invoice only
    let body = json!({"lease_id": lease_id, "amount": 100, "method": "check", "invoice_ids": [paid]});
    assert_eq!(pay(&app, &token, "cancel-1", &body).await.status, StatusCode::CREATED);
    let refused =
        app.call(Method::POST, &format!("/api/v1/financial/invoices/{paid}/cancel"), Some(&token), None, &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("refund first"));

    let cancelled =
        app.call(Method::POST, &format!("/api/v1/financial/invoices/{unpaid}/cancel"), Some(&token), None, &[]).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["data"]["status"], "cancelled");
    let again =
        app.call(Method::POST, &format!("/api/v1/financial/invoices/{unpaid}/cancel"), Some(&token), None, &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let ledger = ledger(&app, &token, &lease_id).await;
    assert_eq!((ledger["payment_status"].as_str(), cents(&ledger["balance"])), (Some("current"), 0));
    assert_eq!(sum_of_entries(&ledger), 0);
    let kinds: Vec<&str> = ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["charge", "charge", "payment", "credit"]);
}

#[tokio::test]
async fn an_invoice_and_the_payment_that_settles_it_become_events() {
    let app = app().await;
    let pump = doorstep_tests::relay_pump::Pump::new(&app.services);
    let (token, lease_id, _) = leased(&app).await;
    let inv = invoice_id(&app, &token, &lease_id, 1000.0, &day(10)).await;
    let paid = pay(&app, &token, "events-1", &payment(&lease_id, 1000.0)).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);

    let wait = std::time::Duration::from_secs(30);
    let events = pump
        .until(wait, "invoice.updated", || async {
            let log = app.get("/api/v1/events?page_size=100", &token).await.body["data"].as_array().cloned();
            let log = log.unwrap_or_default();
            log.iter().any(|e| e["event"] == "invoice.updated").then_some(log)
        })
        .await;
    let of = |name: &str| events.iter().find(|e| e["event"] == name).unwrap_or_else(|| panic!("{name}: {events:?}"));
    assert_eq!(of("invoice.created")["data"]["invoice_id"], inv.as_str());
    assert_eq!(of("payment.created")["data"]["payment_id"], paid.body["data"]["id"]);
    let updated = of("invoice.updated");
    assert_eq!(updated["data"]["status"], "paid");
    assert!(updated["changed_fields"].as_array().unwrap().contains(&json!("status")), "{updated:?}");
    // The balance and the entries are bookkeeping, not events of their own
    assert!(events.iter().all(|e| !e["event"].as_str().unwrap().starts_with("ledger")), "{events:?}");
}

#[tokio::test]
async fn overdue_renters_are_those_with_an_invoice_unpaid_past_its_due_date() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (late, late_tenant) = lease_in(&app, &token, "O1", "late@example.com").await;
    let (on_time, _) = lease_in(&app, &token, "O2", "ontime@example.com").await;
    invoice_id(&app, &token, &late, 900.0, &day(-3)).await;
    invoice_id(&app, &token, &on_time, 900.0, &day(3)).await;

    let overdue = app.get("/api/ai/renters/overdue", &token).await;
    assert_eq!(overdue.status, StatusCode::OK, "{:?}", overdue.body);
    let renters = overdue.body["renters"].as_array().unwrap();
    assert_eq!(renters.len(), 1, "{renters:?}");
    assert_eq!(
        (renters[0]["id"].as_str(), renters[0]["payment_status"].as_str()),
        (Some(late_tenant.as_str()), Some("overdue"))
    );

    // An app needs read:payments as well as read:renters
    let mut oauth = claims(&app.services.config, &org, &["OrganizationOwner"]);
    oauth.client_id = Some("app_test".into());
    oauth.scope = Some("read:renters".into());
    assert_eq!(app.get("/api/ai/renters/overdue", &app.sign(&oauth)).await.status, StatusCode::FORBIDDEN);
    oauth.scope = Some("read:renters read:payments".into());
    let scoped = app.get("/api/ai/renters/overdue", &app.sign(&oauth)).await;
    assert_eq!(scoped.body["renters"].as_array().map(Vec::len), Some(1), "{:?}", scoped.body);
}
