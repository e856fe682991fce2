//! An invoice's and a payment's life after they are recorded: refunds re-open what they
//! un-pay, drafts stay off the ledger until sent, edits and deletions stop at money
//! paid, receipts show what was paid and what is left.

use doorstep_tests::{TestApp, TestResponse, app, claims, new_org};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::financial::{cents, invoice_id, lease_in, leased, ledger, pay, payment, sum_of_entries};
use crate::leasing::day;

async fn refund(app: &TestApp, token: &str, payment_id: &str, key: &str, body: &Value) -> TestResponse {
    let uri = format!("/api/v1/financial/payments/{payment_id}/refund");
    app.call(Method::POST, &uri, Some(token), Some(body), &[("idempotency-key", key)]).await
}

async fn paid(app: &TestApp, token: &str, key: &str, lease_id: &str, amount: f64) -> String {
    let response = pay(app, token, key, &payment(lease_id, amount)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn invoice_data(app: &TestApp, token: &str, invoice_id: &str) -> Value {
    let response = app.get(&format!("/api/v1/financial/invoices/{invoice_id}"), token).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body["data"].clone()
}

#[tokio::test]
async fn a_partial_and_a_full_refund_reopen_the_invoice_they_unpay() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let inv = invoice_id(&app, &token, &lease_id, 1000.0, &day(10)).await;
    let first = paid(&app, &token, "refund-pay-1", &lease_id, 400.0).await;
    assert_eq!(ledger(&app, &token, &lease_id).await["payment_status"], "partial");
    let second = paid(&app, &token, "refund-pay-2", &lease_id, 600.0).await;
    assert_eq!(ledger(&app, &token, &lease_id).await["payment_status"], "current");
    assert_eq!(invoice_data(&app, &token, &inv).await["status"], "paid");

    // A partial refund of the second payment re-opens the invoice
    let partial = refund(&app, &token, &second, "refund-1", &json!({"amount": 250, "reason": "Overcharged"})).await;
    assert_eq!(partial.status, StatusCode::CREATED, "{:?}", partial.body);
    assert_eq!(partial.body["data"]["status"], "partially_refunded");
    assert_eq!(cents(&partial.body["data"]["refunded_amount"]), 25_000);
    assert_eq!(partial.body["data"]["refunds"][0]["unpaid"], json!([{"invoice_id": inv, "amount": 250.0}]));
    assert_eq!(partial.body["data"]["refunds"][0]["reason"], "Overcharged");
    let reopened = invoice_data(&app, &token, &inv).await;
    assert_eq!((reopened["status"].as_str(), cents(&reopened["amount_due"])), (Some("partially_paid"), 25_000));
    let after = ledger(&app, &token, &lease_id).await;
    assert_eq!((after["payment_status"].as_str(), cents(&after["balance"])), (Some("partial"), 25_000));

    // The same key replays the first answer and refunds nothing more
    let again = refund(&app, &token, &second, "refund-1", &json!({"amount": 250, "reason": "Overcharged"})).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (StatusCode::CREATED, Some("true")));

    // The rest of it, with no amount, refunds it in full
    let full = refund(&app, &token, &second, "refund-2", &json!({"reason": "Moved out"})).await;
    assert_eq!(full.status, StatusCode::CREATED, "{:?}", full.body);
    assert_eq!(full.body["data"]["status"], "refunded");
    assert_eq!(cents(&full.body["data"]["refunded_amount"]), 60_000);
    let shown = app.get(&format!("/api/v1/financial/payments/{second}"), &token).await;
    assert_eq!(
        (shown.body["data"]["status"].as_str(), shown.body["data"]["version"].as_u64()),
        (Some("refunded"), Some(3))
    );
    let reopened = invoice_data(&app, &token, &inv).await;
    assert_eq!((reopened["status"].as_str(), cents(&reopened["amount_paid"])), (Some("partially_paid"), 40_000));
    let after = ledger(&app, &token, &lease_id).await;
    assert_eq!(cents(&after["balance"]), 60_000);
    assert_eq!(sum_of_entries(&after), 60_000);
    let kinds: Vec<&str> = after["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["charge", "payment", "payment", "refund", "refund"]);

    // Nothing is left to refund on it, and the first cannot give back more than it paid
    let nothing = refund(&app, &token, &second, "refund-3", &json!({"reason": "Again"})).await;
    assert_eq!(nothing.status, StatusCode::CONFLICT, "{:?}", nothing.body);
    let over = refund(&app, &token, &first, "refund-4", &json!({"amount": 400.01, "reason": "Too much"})).await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", over.body);
    assert_eq!(over.body["error"]["details"][0]["field"], "amount");
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 60_000);
}

#[tokio::test]
async fn a_refund_of_a_late_invoice_payment_makes_the_lease_overdue_again() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let inv = invoice_id(&app, &token, &lease_id, 500.0, &day(-3)).await;
    let payment_id = paid(&app, &token, "late-pay", &lease_id, 500.0).await;
    assert_eq!(ledger(&app, &token, &lease_id).await["payment_status"], "current");

    let refunded = refund(&app, &token, &payment_id, "late-refund", &json!({"reason": "Bounced"})).await;
    assert_eq!(refunded.status, StatusCode::CREATED, "{:?}", refunded.body);
    assert_eq!(ledger(&app, &token, &lease_id).await["payment_status"], "overdue");
    assert_eq!(invoice_data(&app, &token, &inv).await["status"], "overdue");
}

#[tokio::test]
async fn a_refund_gives_back_the_credit_first_and_needs_a_key_a_reason_and_a_manager() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (lease_id, tenant_id) = lease_in(&app, &token, "R1", "refunds@example.com").await;
    let inv = invoice_id(&app, &token, &lease_id, 100.0, &day(10)).await;
    let payment_id = paid(&app, &token, "credit-pay", &lease_id, 150.0).await;

    let credit = refund(&app, &token, &payment_id, "credit-refund", &json!({"amount": 50, "reason": "Overpaid"})).await;
    assert_eq!(credit.status, StatusCode::CREATED, "{:?}", credit.body);
    assert_eq!(credit.body["data"]["refunds"][0]["unpaid"], json!([]));
    assert_eq!(invoice_data(&app, &token, &inv).await["status"], "paid");
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 0);

    let uri = format!("/api/v1/financial/payments/{payment_id}/refund");
    let keyless = app.post(&uri, &token, &json!({"reason": "No key"})).await;
    assert_eq!(keyless.status, StatusCode::BAD_REQUEST, "{:?}", keyless.body);
    let reasonless = refund(&app, &token, &payment_id, "reasonless", &json!({"amount": 1})).await;
    assert_eq!(reasonless.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reasonless.body);
    let mut as_tenant = claims(&app.services.config, &org, &["Tenant"]);
    as_tenant.tenant_profile_id = Some(tenant_id);
    let tenant = app.sign(&as_tenant);
    let refused = refund(&app, &tenant, &payment_id, "tenant-refund", &json!({"reason": "Mine"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let missing = refund(&app, &token, "pay_01JD3M00000000000000000001", "missing", &json!({"reason": "x"})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);
}

#[tokio::test]
async fn a_processor_refund_is_recorded_once_per_external_reference() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (lease_id, _) = lease_in(&app, &token, "S1", "stripe@example.com").await;
    invoice_id(&app, &token, &lease_id, 300.0, &day(10)).await;
    let payment_id = paid(&app, &token, "stripe-pay", &lease_id, 300.0).await;
    let payment = shared::domain::ids::PaymentId::parse(&payment_id).unwrap();
    let terms = financial::requests::RefundTerms {
        amount: Some(shared::domain::money::Money(10_000)),
        reason: "Stripe charge.refunded".into(),
        external_reference: Some("re_3Px".into()),
    };

    let first = financial::refunds::record(&app.services, &org, &payment, &terms).await.expect("recorded");
    assert!(matches!(first, financial::refunds::Refunded::Recorded(_)), "{first:?}");
    let again = financial::refunds::record(&app.services, &org, &payment, &terms).await.expect("redelivery");
    let financial::refunds::Refunded::AlreadyRecorded(payment) = again else { panic!("{again:?}") };
    assert_eq!((payment.refunds.len(), payment.refunded_amount.0), (1, 10_000));
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 10_000);
}
