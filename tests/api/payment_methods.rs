//! Saved payment methods: processor references only. A card number or a security code
//! in a body is a 422 naming the field, and its digits reach no log line and no store.

use doorstep_tests::{TestApp, TestResponse, app, claims, new_org};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::financial::{lease_in, leased};
use crate::log_capture::CapturedLogs;

const CARD_NUMBER: &str = "4111 1111 1111 1111";
const CARD_DIGITS: &str = "4111111111111111";

fn stripe_card(lease_id: &str) -> Value {
    json!({"lease_id": lease_id, "processor": "stripe", "processor_token": "pm_1NqPZ2LkdIwHu7ix", "type": "card",
        "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030})
}

async fn save(app: &TestApp, token: &str, body: &Value) -> TestResponse {
    app.call(Method::POST, "/api/v1/financial/payment-methods", Some(token), Some(body), &[]).await
}

fn refused_field(response: &TestResponse) -> &str {
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", response.body);
    assert_eq!(response.error_code(), "VALIDATION_ERROR");
    response.body["error"]["details"][0]["field"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_card_number_is_refused_naming_the_field_and_reaches_no_log_or_store() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    let (logs, _capture) = CapturedLogs::start();

    // When the card number is sent in a field of its own, spaced, dashed or nested
    let mut spaced = stripe_card(&lease_id);
    spaced["processor_token"] = json!(CARD_NUMBER);
    let mut nested = stripe_card(&lease_id);
    nested["card"] = json!({"number": CARD_NUMBER.replace(' ', "-")});
    let mut plain = stripe_card(&lease_id);
    plain["brand"] = json!(format!("visa {CARD_DIGITS}"));
    let refusals = [
        (save(&app, &token, &spaced).await, "processor_token"),
        (save(&app, &token, &nested).await, "card.number"),
        (save(&app, &token, &plain).await, "brand"),
    ];

    // Then each is a 422 naming the field without repeating the number
    for (response, field) in &refusals {
        assert_eq!(refused_field(response), *field);
        assert!(!response.text.contains("4111"), "{}", response.text);
    }
    let logged = logs.text();
    assert!(logged.contains("payment method refused"), "the capture sees the handler's logs: {logged}");
    for line in logged.lines() {
        let digits: String = line.chars().filter(char::is_ascii_digit).collect();
        assert!(!digits.contains(CARD_DIGITS), "the card number was logged: {line}");
    }
    // And nothing was saved
    let listed = app.get("/api/v1/financial/payment-methods", &token).await;
    assert_eq!(listed.body["data"], json!([]));
}

#[tokio::test]
async fn a_security_code_field_is_refused_whatever_its_value() {
    let app = app().await;
    let (token, lease_id, _) = leased(&app).await;
    for (field, value) in [("cvc", json!("123")), ("CVV", json!(123)), ("card_security_code", json!(""))] {
        let mut body = stripe_card(&lease_id);
        body[field] = value;
        assert_eq!(refused_field(&save(&app, &token, &body).await), field);
    }
    let listed = app.get("/api/v1/financial/payment-methods", &token).await;
    assert_eq!(listed.body["data"], json!([]));
}

#[tokio::test]
async fn a_saved_method_shows_its_processor_reference_and_bad_fields_are_422() {
    let app = app().await;
    let (token, lease_id, tenant_id) = leased(&app).await;

    let saved = save(&app, &token, &stripe_card(&lease_id)).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{:?}", saved.body);
    let data = &saved.body["data"];
    assert!(data["id"].as_str().unwrap().starts_with("pm_"));
    assert_eq!(
        (&data["processor"], &data["processor_token"], &data["type"], &data["last4"], &data["exp_year"]),
        (&json!("stripe"), &json!("pm_1NqPZ2LkdIwHu7ix"), &json!("card"), &json!("4242"), &json!(2030))
    );
    assert_eq!(data["tenant_ids"], json!([tenant_id]));

    let cases = [
        (json!({"last4": "42"}), "last4"),
        (json!({"last4": null}), "last4"),
        (json!({"exp_month": 13}), "exp_month"),
        (json!({"exp_year": null}), "exp_year"),
        (json!({"processor": "venmo"}), "processor"),
        (json!({"processor_token": ""}), "processor_token"),
        (json!({"lease_id": "lease_nope"}), "lease_id"),
        (json!({"id": "pm_01JD3M00000000000000000001"}), "id"),
    ];
    for (change, expected) in cases {
        let mut body = stripe_card(&lease_id);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        assert_eq!(refused_field(&save(&app, &token, &body).await), expected, "{change}");
    }
    let listed = app.get(&format!("/api/v1/financial/payment-methods?lease_id={lease_id}"), &token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_tenant_saves_and_sees_only_their_own_methods() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let (mine, me) = lease_in(&app, &token, "T1", "me@example.com").await;
    let (theirs, _) = lease_in(&app, &token, "B2", "other.payer@example.com").await;
    assert_eq!(save(&app, &token, &stripe_card(&theirs)).await.status, StatusCode::CREATED);
    let mut tenant = claims(&app.services.config, &org, &["Tenant"]);
    tenant.tenant_profile_id = Some(me.clone());
    let tenant_token = app.sign(&tenant);

    // A Tenant saves a method for their own lease, not for another's
    assert_eq!(save(&app, &tenant_token, &stripe_card(&mine)).await.status, StatusCode::CREATED);
    let foreign = save(&app, &tenant_token, &stripe_card(&theirs)).await;
    assert_eq!((foreign.status, foreign.error_code()), (StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND"));

    // and lists only their own
    let listed = app.get("/api/v1/financial/payment-methods", &tenant_token).await;
    let leases: Vec<&str> =
        listed.body["data"].as_array().unwrap().iter().map(|m| m["lease_id"].as_str().unwrap()).collect();
    assert_eq!(leases, [mine.as_str()]);
    let all = app.get("/api/v1/financial/payment-methods", &token).await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
}
