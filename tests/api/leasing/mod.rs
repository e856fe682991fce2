//! Units, tenants and leases: the rules that must hold under concurrency, occupancy,
//! object-level authorization, and the partner unit and lease feed. The fixtures below
//! are shared by the test modules, one per function.

mod leases;
mod partner_feed;
mod tenants;
mod units;

use doorstep_tests::TestApp;
use http::StatusCode;
use serde_json::{Value, json};
use time::{Date, Duration};

pub(crate) fn day(offset_days: i64) -> String {
    let date: Date = time::OffsetDateTime::now_utc().date() + Duration::days(offset_days);
    shared::domain::calendar::format_date(date)
}

async fn property_at(app: &TestApp, token: &str, street: &str, city: &str, state: &str, zip: &str) -> String {
    let body = json!({"name": street, "type": "residential",
        "address": {"street": street, "city": city, "state": state, "postal_code": zip, "country": "US"}});
    let response = app.post("/api/v1/properties", token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"]["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn property(app: &TestApp, token: &str) -> String {
    property_at(app, token, "1 Test Way", "Springfield", "IL", "62701").await
}

pub(crate) async fn unit(app: &TestApp, token: &str, property_id: &str, body: Value) -> Value {
    let response = app.post(&format!("/api/v1/properties/{property_id}/units"), token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"].clone()
}

pub(crate) async fn unit_id(app: &TestApp, token: &str, property_id: &str, number: &str) -> String {
    unit(app, token, property_id, json!({"unit_number": number, "possession_start": "2024-01-01"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn tenant(
    app: &TestApp,
    token: &str,
    property_id: &str,
    name: &str,
    email: &str,
    phone: &str,
) -> String {
    let body = json!({"name": name, "email": email, "phone": phone});
    let response = app.post(&format!("/api/v1/properties/{property_id}/tenants"), token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"]["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn lease(
    app: &TestApp,
    token: &str,
    property_id: &str,
    tenant_id: &str,
    body: Value,
) -> doorstep_tests::TestResponse {
    app.post(&format!("/api/v1/properties/{property_id}/tenants/{tenant_id}/lease"), token, &body).await
}

pub(crate) fn terms(unit_id: &str, start: &str, end: &str) -> Value {
    json!({"unit_id": unit_id, "start_date": start, "end_date": end, "rent_amount": 2400})
}

/// A partner feed unit: our id, then the fields exactly as the feed's documentation shows them.
fn feed_unit(id: &str, rest: &str) -> String {
    format!(r#"{{"ID":"{id}",{rest}}}"#)
}
