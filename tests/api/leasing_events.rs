//! The `events/units`, `events/tenants` and `events/leases` API Gateway v2 fixtures,
//! pushed through `lambda_http` as the Lambda runtime would deliver them.

use axum::body::Body;
use doorstep_tests::{TestApp, app, new_org};
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Ids that fill a fixture's placeholders.
#[derive(Default)]
struct Ids {
    property: String,
    unit: String,
    tenant: String,
}

async fn invoke(app: &TestApp, function: &str, name: &str, token: &str, ids: &Ids) -> (StatusCode, Value) {
    let path = format!("{}/../events/{function}/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let event = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .replace("__TOKEN__", token)
        .replace("__PROPERTY_ID__", &ids.property)
        .replace("__UNIT_ID__", &ids.unit)
        .replace("__TENANT_ID__", &ids.tenant);
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
    let response = app.gateway.router_for(&request).oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, body)
}

#[tokio::test]
async fn every_leasing_fixture_runs_through_lambda_http() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let mut ids = Ids {
        property: app.create_property(&token, "Fixture Place").await["id"].as_str().unwrap().to_owned(),
        ..Ids::default()
    };

    let (status, unit) = invoke(&app, "units", "create", &token, &ids).await;
    assert_eq!(status, StatusCode::CREATED, "{unit:?}");
    ids.unit = unit["data"]["id"].as_str().unwrap().to_owned();
    let (status, read) = invoke(&app, "units", "get", &token, &ids).await;
    assert_eq!((status, &read["data"]["unit_number"]), (StatusCode::OK, &Value::from("A101")));
    let (status, listed) = invoke(&app, "units", "list", &token, &ids).await;
    assert_eq!((status, listed["data"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (status, rented) = invoke(&app, "units", "set-status", &token, &ids).await;
    assert_eq!((status, &rented["data"]["status_id"]), (StatusCode::OK, &Value::from(2)));
    let (status, feed) = invoke(&app, "units", "feed", &token, &ids).await;
    assert_eq!((status, &feed[0]["ID"]), (StatusCode::OK, &Value::from(ids.unit.as_str())));

    let (status, tenant) = invoke(&app, "tenants", "create", &token, &ids).await;
    assert_eq!(status, StatusCode::CREATED, "{tenant:?}");
    ids.tenant = tenant["data"]["id"].as_str().unwrap().to_owned();
    let (status, read) = invoke(&app, "tenants", "get", &token, &ids).await;
    assert_eq!((status, &read["data"]["name"]), (StatusCode::OK, &Value::from("John Smith")));

    let (status, lease) = invoke(&app, "leases", "create", &token, &ids).await;
    assert_eq!(status, StatusCode::CREATED, "{lease:?}");
    let (status, own) = invoke(&app, "leases", "tenant-lease", &token, &ids).await;
    assert_eq!((status, &own["data"]["id"]), (StatusCode::OK, &lease["data"]["id"]));
    let (status, listed) = invoke(&app, "leases", "list", &token, &ids).await;
    assert_eq!((status, &listed["data"][0]["id"]), (StatusCode::OK, &lease["data"]["id"]));
    let (status, feed) = invoke(&app, "leases", "feed", &token, &ids).await;
    assert_eq!((status, &feed[0]["moveIn"]), (StatusCode::OK, &Value::from("2024-01-01T10:00:00Z")));
    let (status, renters) = invoke(&app, "tenants", "renters", &token, &ids).await;
    assert_eq!((status, &renters["renters"][0]["rent_amount"]), (StatusCode::OK, &Value::from(2400)));
}
