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

async fn put(app: &TestApp, token: &str, uri: &str, body: &Value, if_match: Option<&str>) -> TestResponse {
    let headers: Vec<(&str, &str)> = if_match.map(|tag| vec![("if-match", tag)]).unwrap_or_default();
    app.call(Method::PUT, uri, Some(token), Some(body), &headers).await
}

async fn action(app: &TestApp, token: &str, invoice_id: &str, action: &str) -> TestResponse {
    let uri = format!("/api/v1/financial/invoices/{invoice_id}/{action}");
    app.call(Method::POST, &uri, Some(token), None, &[]).await
}

fn rent(amount: f64, due: &str) -> Value {
    json!({"due_date": due, "line_items": [{"description": "Rent", "category": "rent", "amount": amount}]})
}

#[tokio::test]
async fn a_draft_is_off_the_ledger_until_sent_and_each_step_is_on_the_bus() {
    let app = app().await;
    let pump = doorstep_tests::relay_pump::Pump::new(&app.services);
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let pattern = json!({"source": [shared::events::DOMAIN_SOURCE], "detail": {"organization_id": [org]},
        "detail-type": ["invoice.sent", "invoice.paid", "payment.received", "payment.refunded"]});
    let bus = doorstep_tests::bus_queue::BusQueue::subscribe(&app, "invoices", &pattern).await;
    let (lease_id, _) = lease_in(&app, &token, "D1", "draft@example.com").await;

    let mut body = rent(800.0, &day(10));
    body["lease_id"] = json!(lease_id);
    body["status"] = json!("draft");
    let draft = app.post("/api/v1/financial/invoices", &token, &body).await;
    assert_eq!((draft.status, draft.body["data"]["status"].as_str()), (StatusCode::CREATED, Some("draft")));
    let inv = draft.body["data"]["id"].as_str().unwrap().to_owned();
    let before = ledger(&app, &token, &lease_id).await;
    assert_eq!((before["entry_count"].as_u64(), cents(&before["balance"])), (Some(0), 0));
    let drafts = app.get(&format!("/api/v1/financial/invoices?lease_id={lease_id}&status=draft"), &token).await;
    assert_eq!(drafts.body["data"].as_array().unwrap().len(), 1);

    let sent = action(&app, &token, &inv, "send").await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    assert_eq!(sent.body["data"]["status"], "open");
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 80_000);
    let resent = action(&app, &token, &inv, "send").await;
    assert_eq!(resent.status, StatusCode::OK, "{:?}", resent.body);
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 80_000, "sending again charges nothing");

    let payment_id = paid(&app, &token, "bus-pay", &lease_id, 800.0).await;
    let refunded = refund(&app, &token, &payment_id, "bus-refund", &json!({"amount": 100, "reason": "Goodwill"})).await;
    assert_eq!(refunded.status, StatusCode::CREATED, "{:?}", refunded.body);
    let paid_invoice = action(&app, &token, &inv, "void").await;
    assert_eq!(paid_invoice.status, StatusCode::CONFLICT, "{:?}", paid_invoice.body);

    let wanted = [("invoice.sent", 2), ("invoice.paid", 1), ("payment.received", 1), ("payment.refunded", 1)];
    let mut seen: Vec<Value> = Vec::new();
    for _ in 0..30 {
        pump.drain().await;
        seen.extend(bus.receive(1).await);
        if seen.len() >= 5 {
            break;
        }
    }
    let of = |kind: &str| seen.iter().filter(|e| e["detail-type"] == kind).collect::<Vec<_>>();
    for (kind, count) in wanted {
        assert_eq!(of(kind).len(), count, "{kind}: {seen:?}");
        assert_eq!(of(kind)[0]["detail"]["event"], kind);
    }
    assert_eq!(of("invoice.sent")[0]["detail"]["data"]["invoice_id"], inv.as_str());
    assert_eq!(of("invoice.paid")[0]["detail"]["data"]["payment_id"], payment_id.as_str());
    assert_eq!(cents(&of("payment.received")[0]["detail"]["data"]["amount"]), 80_000);
    assert_eq!(of("payment.refunded")[0]["detail"]["data"]["status"], "partially_refunded");
}

#[tokio::test]
async fn an_invoice_changes_until_it_is_paid_and_is_deleted_only_without_payments() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let inv = invoice_id(&app, &token, &lease_id, 1000.0, &day(10)).await;
    let uri = format!("/api/v1/financial/invoices/{inv}");

    // A revision replaces the charges on the ledger; a stale ETag is a 412
    let mut body = rent(900.0, &day(20));
    body["notes"] = json!("Discounted");
    let stale = put(&app, &token, &uri, &body, Some("\"7\"")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{:?}", stale.body);
    let changed = put(&app, &token, &uri, &body, Some("\"1\"")).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (cents(&changed.body["data"]["total"]), changed.body["data"]["notes"].as_str()),
        (90_000, Some("Discounted"))
    );
    assert_eq!(changed.header("etag"), Some("\"2\""));
    let after = ledger(&app, &token, &lease_id).await;
    assert_eq!((cents(&after["balance"]), sum_of_entries(&after)), (90_000, 90_000));
    let mut server_owned = rent(900.0, &day(20));
    server_owned["status"] = json!("paid");
    assert_eq!(put(&app, &token, &uri, &server_owned, None).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Partly paid it cannot change or go; paid neither
    paid(&app, &token, "change-pay-1", &lease_id, 100.0).await;
    let refused = put(&app, &token, &uri, &rent(50.0, &day(20)), None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    paid(&app, &token, "change-pay-2", &lease_id, 800.0).await;
    assert_eq!(invoice_data(&app, &token, &inv).await["status"], "paid");
    assert_eq!(put(&app, &token, &uri, &rent(50.0, &day(20)), None).await.status, StatusCode::CONFLICT);
    let delete = app.call(Method::DELETE, &uri, Some(&token), None, &[]).await;
    assert_eq!(delete.status, StatusCode::CONFLICT, "{:?}", delete.body);

    // An unpaid invoice is deleted with its charges credited back; a draft simply goes
    let unpaid = invoice_id(&app, &token, &lease_id, 300.0, &day(30)).await;
    let gone = app.call(Method::DELETE, &format!("/api/v1/financial/invoices/{unpaid}"), Some(&token), None, &[]).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
    assert_eq!(app.get(&format!("/api/v1/financial/invoices/{unpaid}"), &token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 0);
    let mut draft = rent(10.0, &day(5));
    draft["lease_id"] = json!(lease_id);
    draft["status"] = json!("draft");
    let draft =
        app.post("/api/v1/financial/invoices", &token, &draft).await.body["data"]["id"].as_str().unwrap().to_owned();
    let draft_uri = format!("/api/v1/financial/invoices/{draft}");
    let edited = put(&app, &token, &draft_uri, &rent(20.0, &day(5)), None).await;
    assert_eq!((edited.status, edited.body["data"]["status"].as_str()), (StatusCode::OK, Some("draft")));
    let deleted = app.call(Method::DELETE, &draft_uri, Some(&token), None, &[("if-match", "\"2\"")]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    assert_eq!(ledger(&app, &token, &lease_id).await["entry_count"], 7);
}

#[tokio::test]
async fn an_invoice_lists_its_payments() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let first = invoice_id(&app, &token, &lease_id, 300.0, &day(1)).await;
    let second = invoice_id(&app, &token, &lease_id, 300.0, &day(2)).await;
    let a = paid(&app, &token, "list-pay-1", &lease_id, 200.0).await;
    let b = paid(&app, &token, "list-pay-2", &lease_id, 200.0).await;
    let c = paid(&app, &token, "list-pay-3", &lease_id, 200.0).await;

    let ids = |r: &TestResponse| -> Vec<String> {
        r.body["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
    };
    let of_first = app.get(&format!("/api/v1/financial/invoices/{first}/payments"), &token).await;
    assert_eq!(of_first.status, StatusCode::OK, "{:?}", of_first.body);
    assert_eq!(ids(&of_first), vec![a.clone(), b.clone()]);
    let of_second = app.get(&format!("/api/v1/financial/invoices/{second}/payments?page_size=1"), &token).await;
    assert_eq!(ids(&of_second), vec![b.clone()]);
    let cursor = of_second.body["meta"]["pagination"]["next_cursor"].as_str().unwrap().to_owned();
    let next =
        app.get(&format!("/api/v1/financial/invoices/{second}/payments?page_size=1&cursor={cursor}"), &token).await;
    assert_eq!(ids(&next), vec![c]);
    let missing = app.get("/api/v1/financial/invoices/inv_01JD3M00000000000000000001/payments", &token).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_invoice_filter_narrows_the_list() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (one, tenant_one) = lease_in(&app, &token, "F1", "one@example.com").await;
    let (two, _) = lease_in(&app, &token, "F2", "two@example.com").await;
    let early = invoice_id(&app, &token, &one, 100.0, &day(-5)).await;
    let late = invoice_id(&app, &token, &one, 100.0, &day(20)).await;
    let other = invoice_id(&app, &token, &two, 100.0, &day(5)).await;
    let property = invoice_data(&app, &token, &other).await["property_id"].as_str().unwrap().to_owned();
    let since = invoice_data(&app, &token, &other).await["updated_at"].as_str().unwrap().to_owned();
    paid(&app, &token, "filter-pay", &one, 100.0).await;

    let listed = |query: String| {
        let (app, token) = (&app, &token);
        async move {
            let response = app.get(&format!("/api/v1/financial/invoices?{query}"), token).await;
            assert_eq!(response.status, StatusCode::OK, "{query}: {:?}", response.body);
            let mut ids: Vec<String> = response.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<&String>| {
        ids.sort();
        ids.into_iter().cloned().collect::<Vec<String>>()
    };
    assert_eq!(listed(format!("lease_id={one}")).await, sorted(vec![&early, &late]));
    assert_eq!(listed(format!("tenant_id={tenant_one}")).await, sorted(vec![&early, &late]));
    assert_eq!(listed(format!("property_id={property}")).await, vec![other.clone()]);
    assert_eq!(listed("status=paid".into()).await, vec![early.clone()]);
    assert_eq!(listed("status=open".into()).await, sorted(vec![&late, &other]));
    assert_eq!(listed(format!("due_before={}", day(5))).await, sorted(vec![&early, &other]));
    assert_eq!(listed(format!("due_after={}", day(5))).await, sorted(vec![&late, &other]));
    assert_eq!(listed(format!("due_after={}&due_before={}", day(0), day(10))).await, vec![other.clone()]);
    // Paying the early invoice changed it after the others were last written
    assert_eq!(listed(format!("updated_since={since}&lease_id={one}")).await, vec![early.clone()]);

    let bad = app.get("/api/v1/financial/invoices?due_before=tomorrow", &token).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    let inverted =
        app.get(&format!("/api/v1/financial/invoices?due_after={}&due_before={}", day(5), day(1)), &token).await;
    assert_eq!(inverted.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", inverted.body);
    let unknown = app.get("/api/v1/financial/invoices?due=soon", &token).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_payment_changes_only_its_memo_and_reference() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let payment_id = paid(&app, &token, "memo-pay", &lease_id, 50.0).await;
    let uri = format!("/api/v1/financial/payments/{payment_id}");

    let changed =
        put(&app, &token, &uri, &json!({"memo": "Paid at the office", "reference": "CHQ-7"}), Some("\"1\"")).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (changed.body["data"]["memo"].as_str(), changed.body["data"]["reference"].as_str()),
        (Some("Paid at the office"), Some("CHQ-7"))
    );
    assert_eq!(changed.body["data"]["version"], 2);
    let stale = put(&app, &token, &uri, &json!({"memo": "x"}), Some("\"1\"")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let amount = put(&app, &token, &uri, &json!({"memo": "x", "amount": 1}), None).await;
    assert_eq!(amount.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", amount.body);
    assert_eq!(amount.body["error"]["details"][0]["field"], "amount");
    let shown = app.get(&uri, &token).await;
    assert_eq!(cents(&shown.body["data"]["amount"]), 5_000);
}

fn pdf_text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    let document = lopdf::Document::load_mem(bytes).expect("a PDF a reader opens");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document.extract_text(&pages).expect("its text extracts")
}

#[tokio::test]
async fn a_receipt_shows_what_was_paid_and_the_balance_after_and_prints() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (lease_id, tenant_id) = lease_in(&app, &token, "P1", "receipt@example.com").await;
    let (theirs, _) = lease_in(&app, &token, "P2", "other@example.com").await;
    let inv = invoice_id(&app, &token, &lease_id, 1200.0, &day(10)).await;
    let payment_id = paid(&app, &token, "receipt-pay", &lease_id, 450.5).await;
    let their_payment = paid(&app, &token, "receipt-theirs", &theirs, 10.0).await;
    let uri = format!("/api/v1/financial/payments/{payment_id}/receipt");

    let receipt = app.get(&uri, &token).await;
    assert_eq!(receipt.status, StatusCode::OK, "{:?}", receipt.body);
    let data = &receipt.body["data"];
    assert_eq!(
        (data["tenant"]["id"].as_str(), data["tenant"]["name"].as_str()),
        (Some(tenant_id.as_str()), Some("Pat Payer"))
    );
    assert_eq!(data["property"]["name"], "1 Test Way");
    assert_eq!(data["organization"]["id"], org.as_str());
    assert_eq!(cents(&data["amount"]), 45_050);
    assert_eq!(cents(&data["balance_after"]), 74_950);
    assert_eq!(data["allocations"], json!([{"invoice_id": inv, "amount": 450.5}]));
    assert!(data["lines"][0]["description"].as_str().unwrap().contains("Rent"), "{data:?}");

    let pdf = app.call(Method::GET, &uri, Some(&token), None, &[("accept", "application/pdf")]).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&pdf.bytes);
    for expected in ["Pat Payer", "450.50 USD", "Balance after payment: 749.50 USD", "1 Test Way"] {
        assert!(text.contains(expected), "{expected} in {text:?}");
    }

    let invoice_pdf = app
        .call(
            Method::GET,
            &format!("/api/v1/financial/invoices/{inv}"),
            Some(&token),
            None,
            &[("accept", "application/pdf")],
        )
        .await;
    assert_eq!(invoice_pdf.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&invoice_pdf.bytes);
    for expected in ["Pat Payer", "Total: 1200.00 USD", "Amount due: 749.50 USD", "Lease balance: 749.50 USD"] {
        assert!(text.contains(expected), "{expected} in {text:?}");
    }

    // A Tenant gets their own receipts, and another's is not there
    let mut as_tenant = claims(&app.services.config, &org, &["Tenant"]);
    as_tenant.tenant_profile_id = Some(tenant_id);
    let tenant = app.sign(&as_tenant);
    assert_eq!(app.get(&uri, &tenant).await.status, StatusCode::OK);
    let theirs = app.get(&format!("/api/v1/financial/payments/{their_payment}/receipt"), &tenant).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{:?}", theirs.body);
    let theirs_pdf = app
        .call(
            Method::GET,
            &format!("/api/v1/financial/payments/{their_payment}/receipt"),
            Some(&tenant),
            None,
            &[("accept", "application/pdf")],
        )
        .await;
    assert_eq!(theirs_pdf.status, StatusCode::NOT_FOUND);
}
