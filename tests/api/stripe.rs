//! `POST /webhooks/stripe`: the `events/financial/stripe-*.json` fixtures, signed with
//! the local stack's signing secret as Stripe would sign them, pushed through
//! `lambda_http`. Each event is handled once; a bad or stale signature records nothing.

use axum::body::Body;
use doorstep_tests::bus_queue::BusQueue;
use doorstep_tests::{TestApp, app, new_org, stripe_secret};
use futures::future::join_all;
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::financial::{cents, invoice_id, lease_in, ledger};
use crate::leasing::day;

/// How a delivery is signed.
enum Signed {
    /// With the endpoint's secret, now.
    Now,
    /// With the endpoint's secret, this many seconds ago.
    SecondsAgo(i64),
    /// With another secret.
    OtherSecret,
    /// Not at all.
    Unsigned,
}

/// A Stripe event of a fixture, for one lease.
struct Delivery<'a> {
    fixture: &'a str,
    org_id: &'a str,
    lease_id: &'a str,
    event_id: String,
    intent_id: String,
}

impl<'a> Delivery<'a> {
    fn new(fixture: &'a str, org_id: &'a str, lease_id: &'a str) -> Self {
        let id = || ulid::Ulid::generate().to_string();
        Self { fixture, org_id, lease_id, event_id: id(), intent_id: id() }
    }

    /// The fixture's API Gateway event with the Stripe event's placeholders filled, its
    /// body replaced by `edit` of it, and signed as asked.
    fn gateway_event(
        &self,
        secret: &financial::stripe::WebhookSecret,
        signed: &Signed,
        edit: impl Fn(&mut Value),
    ) -> String {
        let path = format!("{}/../events/financial/{}.json", env!("CARGO_MANIFEST_DIR"), self.fixture);
        let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON");
        let body = event["body"]
            .as_str()
            .unwrap()
            .replace("__EVENT_ID__", &self.event_id)
            .replace("__INTENT_ID__", &self.intent_id)
            .replace("__CHARGE_ID__", &self.intent_id)
            .replace("__REFUND_ID__", &self.intent_id)
            .replace("__ORG_ID__", self.org_id)
            .replace("__LEASE_ID__", self.lease_id);
        let mut stripe_event: Value = serde_json::from_str(&body).expect("the fixture's body is a Stripe event");
        edit(&mut stripe_event);
        let body = serde_json::to_string_pretty(&stripe_event).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = match signed {
            Signed::Now => secret.sign(now, body.as_bytes()),
            Signed::SecondsAgo(ago) => secret.sign(now - ago, body.as_bytes()),
            Signed::OtherSecret => {
                financial::stripe::WebhookSecret::new("whsec_not_the_endpoints").sign(now, body.as_bytes())
            }
            Signed::Unsigned => String::new(),
        };
        event["headers"]["stripe-signature"] = json!(signature);
        event["body"] = json!(body);
        event.to_string()
    }
}

/// Delivers a gateway event through `lambda_http` and the gateway's router.
async fn deliver(app: &TestApp, event: &str) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(event).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
    let response = app.gateway.router_for(&request).oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// An organization with a current USD lease owing one 1450.00 invoice past due:
/// (owner token, organization, lease id).
async fn owing(app: &TestApp) -> (String, String, String) {
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (lease_id, _) = lease_in(app, &token, "S1", "card.payer@example.com").await;
    invoice_id(app, &token, &lease_id, 1450.0, &day(-5)).await;
    (token, org, lease_id)
}

async fn payments_of(app: &TestApp, token: &str, lease_id: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/financial/payments?lease_id={lease_id}"), token).await;
    listed.body["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_succeeded_intent_delivered_several_times_records_one_payment_that_moves_the_balance() {
    let app = app().await;
    let secret = stripe_secret(&app.services).await;
    let (token, org, lease_id) = owing(&app).await;
    assert_eq!(ledger(&app, &token, &lease_id).await["payment_status"], "overdue");
    let delivery = Delivery::new("stripe-payment-succeeded", &org, &lease_id);
    let event = delivery.gateway_event(&secret, &Signed::Now, |_| {});

    // When Stripe delivers the event, then redelivers it, five times at once
    let (status, first) = deliver(&app, &event).await;
    let again = join_all((0..5).map(|_| deliver(&app, &event))).await;

    // Then the first records a card payment of 1450.00 and the others record nothing
    assert_eq!(status, StatusCode::OK, "{first:?}");
    assert_eq!(first["data"]["outcome"], "payment_recorded", "{first:?}");
    for (status, body) in &again {
        assert_eq!((*status, body["data"]["outcome"].as_str()), (StatusCode::OK, Some("duplicate")), "{body:?}");
    }
    let payments = payments_of(&app, &token, &lease_id).await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!((payments[0]["method"].as_str(), cents(&payments[0]["amount"])), (Some("card"), 145_000));
    assert_eq!(payments[0]["reference"], format!("pi_{}", delivery.intent_id));
    let after = ledger(&app, &token, &lease_id).await;
    assert_eq!((after["payment_status"].as_str(), cents(&after["balance"])), (Some("current"), 0));
    assert_eq!(after["entry_count"], 2);
}

#[tokio::test]
async fn a_bad_signature_or_a_stale_timestamp_is_400_and_records_nothing() {
    let app = app().await;
    let secret = stripe_secret(&app.services).await;
    let (token, org, lease_id) = owing(&app).await;
    let delivery = Delivery::new("stripe-payment-succeeded", &org, &lease_id);

    // When the event comes unsigned, signed with another secret, signed 6 minutes ago,
    // or with a body changed after signing
    let signed = delivery.gateway_event(&secret, &Signed::Now, |_| {});
    let mut tampered: Value = serde_json::from_str(&signed).unwrap();
    tampered["body"] = json!(tampered["body"].as_str().unwrap().replace("145000", "1"));
    let refused = [
        deliver(&app, &delivery.gateway_event(&secret, &Signed::Unsigned, |_| {})).await,
        deliver(&app, &delivery.gateway_event(&secret, &Signed::OtherSecret, |_| {})).await,
        deliver(&app, &delivery.gateway_event(&secret, &Signed::SecondsAgo(360), |_| {})).await,
        deliver(&app, &tampered.to_string()).await,
    ];

    // Then each is a 400 in the error envelope
    for (status, body) in &refused {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!((body["success"].as_bool(), body["error"]["code"].as_str()), (Some(false), Some("BAD_REQUEST")));
    }
    assert!(refused[2].1["error"]["message"].as_str().unwrap().contains("5 minutes"), "{:?}", refused[2].1);
    // and nothing was recorded: the balance is untouched and the event is still new
    assert!(payments_of(&app, &token, &lease_id).await.is_empty());
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 145_000);
    let (status, accepted) = deliver(&app, &signed).await;
    assert_eq!((status, accepted["data"]["outcome"].as_str()), (StatusCode::OK, Some("payment_recorded")));
}

#[tokio::test]
async fn a_failed_intent_publishes_payment_failed_and_leaves_the_balance() {
    let app = app().await;
    let pump = doorstep_tests::relay_pump::Pump::new(&app.services);
    let secret = stripe_secret(&app.services).await;
    let (token, org, lease_id) = owing(&app).await;
    let pattern = json!({"detail-type": ["payment.failed"], "detail": {"organization_id": [org]}});
    let queue = BusQueue::subscribe(&app, "payment-failed", &pattern).await;
    let delivery = Delivery::new("stripe-payment-failed", &org, &lease_id);

    // When Stripe reports a declined card, twice
    let event = delivery.gateway_event(&secret, &Signed::Now, |_| {});
    let (status, body) = deliver(&app, &event).await;
    let (_, again) = deliver(&app, &event).await;

    // Then the failure is in the ledger's history once and the balance is unchanged
    assert_eq!((status, body["data"]["outcome"].as_str()), (StatusCode::OK, Some("failure_recorded")), "{body:?}");
    assert_eq!(again["data"]["outcome"], "duplicate");
    let after = ledger(&app, &token, &lease_id).await;
    assert_eq!((cents(&after["balance"]), after["payment_status"].as_str()), (145_000, Some("overdue")));
    let failures: Vec<&Value> =
        after["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "payment_failed").collect();
    assert_eq!(failures.len(), 1, "{after:?}");
    assert_eq!(failures[0]["description"], "Card payment failed (insufficient_funds)");
    assert!(payments_of(&app, &token, &lease_id).await.is_empty());
    // and payment.failed reaches the bus
    let published = pump
        .until(std::time::Duration::from_secs(30), "payment.failed", || async {
            let events = queue.receive(1).await;
            (!events.is_empty()).then_some(events)
        })
        .await;
    let detail = &published[0]["detail"];
    assert_eq!(
        (detail["event"].as_str(), detail["data"]["lease_id"].as_str()),
        (Some("payment.failed"), Some(lease_id.as_str()))
    );
    assert_eq!(detail["data"]["amount"], json!(1450.0));
}

#[tokio::test]
async fn unknown_leases_are_kept_unmatched_and_unknown_types_ignored_both_200() {
    let app = app().await;
    let secret = stripe_secret(&app.services).await;
    let (token, org, lease_id) = owing(&app).await;

    // An intent for a lease the organization does not have, or in another currency
    let missing = shared::domain::ids::new("lease");
    let unknown = Delivery::new("stripe-payment-succeeded", &org, &missing);
    let (status, body) = deliver(&app, &unknown.gateway_event(&secret, &Signed::Now, |_| {})).await;
    assert_eq!((status, body["data"]["outcome"].as_str()), (StatusCode::OK, Some("unmatched")), "{body:?}");
    let euros = Delivery::new("stripe-payment-succeeded", &org, &lease_id);
    let event = euros.gateway_event(&secret, &Signed::Now, |e| e["data"]["object"]["currency"] = json!("eur"));
    let (status, body) = deliver(&app, &event).await;
    assert_eq!((status, body["data"]["outcome"].as_str()), (StatusCode::OK, Some("unmatched")), "{body:?}");
    let kept = app.services.store.stripe_events().get(&format!("evt_{}", euros.event_id)).await.unwrap().unwrap();
    assert!(kept.reason.unwrap().contains("currency"));

    // A type the ledger does not handle
    let other = Delivery::new("stripe-payment-succeeded", &org, &lease_id);
    let event = other.gateway_event(&secret, &Signed::Now, |e| e["type"] = json!("customer.created"));
    let (status, body) = deliver(&app, &event).await;
    assert_eq!((status, body["data"]["outcome"].as_str()), (StatusCode::OK, Some("ignored")), "{body:?}");

    // A signed body that is not a Stripe event
    let broken = Delivery::new("stripe-payment-succeeded", &org, &lease_id);
    let event = broken.gateway_event(&secret, &Signed::Now, |e| e["data"] = json!("nothing"));
    let (status, body) = deliver(&app, &event).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("BAD_REQUEST")), "{body:?}");

    // None of them touched the ledger
    assert!(payments_of(&app, &token, &lease_id).await.is_empty());
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 145_000);
}

#[tokio::test]
async fn a_refunded_charge_records_one_refund_of_the_intents_payment() {
    let app = app().await;
    let secret = stripe_secret(&app.services).await;
    let (token, org, lease_id) = owing(&app).await;
    let paid = Delivery::new("stripe-payment-succeeded", &org, &lease_id);
    let (_, body) = deliver(&app, &paid.gateway_event(&secret, &Signed::Now, |_| {})).await;
    assert_eq!(body["data"]["outcome"], "payment_recorded", "{body:?}");

    // When Stripe reports 500.00 of the charge refunded, twice (two event ids for the same
    // refund), and a later event lists that refund again with a second one of 100.00
    let mut refunded = Delivery::new("stripe-charge-refunded", &org, &lease_id);
    refunded.intent_id = paid.intent_id.clone();
    let first = deliver(&app, &refunded.gateway_event(&secret, &Signed::Now, |_| {})).await;
    let again = refunded.gateway_event(&secret, &Signed::Now, |_| {});
    let redelivered = deliver(&app, &again).await;
    refunded.event_id = ulid::Ulid::generate().to_string();
    let same_refund = deliver(&app, &refunded.gateway_event(&secret, &Signed::Now, |_| {})).await;
    refunded.event_id = ulid::Ulid::generate().to_string();
    let both = refunded.gateway_event(&secret, &Signed::Now, |e| {
        let refunds = e["data"]["object"]["refunds"]["data"].as_array_mut().unwrap();
        let mut second = refunds[0].clone();
        second["id"] = json!("re_second");
        second["amount"] = json!(10_000);
        refunds.push(second);
        e["data"]["object"]["amount_refunded"] = json!(60_000);
    });
    let later = deliver(&app, &both).await;

    // Then the payment shows two refunds, 600.00 in all, and the balance owes it again
    assert_eq!(
        (first.0, first.1["data"]["outcome"].as_str()),
        (StatusCode::OK, Some("refund_recorded")),
        "{:?}",
        first.1
    );
    assert_eq!(redelivered.1["data"]["outcome"], "duplicate");
    assert_eq!(same_refund.1["data"]["outcome"], "refund_recorded");
    assert_eq!(later.1["data"]["outcome"], "refund_recorded");
    let payments = payments_of(&app, &token, &lease_id).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(cents(&payments[0]["refunded_amount"]), 60_000, "{:?}", payments[0]);
    let references: Vec<&str> =
        payments[0]["refunds"].as_array().unwrap().iter().map(|r| r["external_reference"].as_str().unwrap()).collect();
    assert_eq!(references, [format!("re_{}", paid.intent_id).as_str(), "re_second"]);
    assert_eq!(cents(&ledger(&app, &token, &lease_id).await["balance"]), 60_000);
}
