//! The API Gateway v2 fixtures in `events/` pushed through `lambda_http`, as the
//! Lambda runtime would deliver them.

use axum::body::Body;
use doorstep_tests::{TestApp, app, new_org};
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn fixture(name: &str) -> String {
    let path = format!("{}/../events/properties/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Fills the fixture's placeholders and runs it.
async fn invoke(app: &TestApp, name: &str, token: &str, property_id: &str) -> (StatusCode, Value, http::HeaderMap) {
    let event = fixture(name)
        .replace("__TOKEN__", token)
        .replace("__PROPERTY_ID__", property_id)
        .replace("__IDEMPOTENCY_KEY__", &ulid::Ulid::generate().to_string());
    dispatch(app, &event).await
}

/// Parses an API Gateway v2 event as Lambda does and runs the router.
async fn dispatch(app: &TestApp, event: &str) -> (StatusCode, Value, http::HeaderMap) {
    let request = lambda_http::request::from_str(event).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
    let response = app.gateway.router_for(&request).oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, body, headers)
}

#[tokio::test]
async fn every_properties_fixture_runs_through_lambda_http() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);

    let (status, created, headers) = invoke(&app, "create", &token, "").await;
    assert_eq!(status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created["data"]["address"]["state"], "BC");
    assert_eq!(headers.get("x-request-id").unwrap(), "req-fixture-create");
    let id = created["data"]["id"].as_str().unwrap().to_owned();

    let (status, listed, _) = invoke(&app, "list", &token, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["meta"]["pagination"]["page_size"], 20);

    let (status, read, _) = invoke(&app, "get", &token, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["data"]["name"], "Sunset Apartments");

    let (status, replaced, _) = invoke(&app, "replace", &token, &id).await;
    assert_eq!(status, StatusCode::OK, "{replaced:?}");
    assert_eq!(replaced["data"]["name"], "Sunset Towers");

    let (status, patched, _) = invoke(&app, "patch", &token, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["data"]["status"], "inactive");

    let (status, ai_list, _) = invoke(&app, "ai-list", &token, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ai_list["properties"][0]["id"], id.as_str());

    let (status, ai_get, _) = invoke(&app, "ai-get", &token, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ai_get["property"]["name"], "Sunset Towers");

    let (status, body, _) = invoke(&app, "delete", &token, &id).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, gone, _) = invoke(&app, "get", &token, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone["error"]["code"], "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn a_fixture_without_a_valid_token_is_refused() {
    let app = app().await;
    let (status, body, _) = invoke(&app, "list", "expired-or-missing", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "AUTHENTICATION_FAILED");
    // API Gateway's request id becomes the correlation id.
    assert_eq!(body["meta"]["correlation_id"], "gw-list-0001");
}

/// API Gateway hands a body that is not UTF-8 to the function base64-encoded: it is
/// malformed JSON, a 400 in the envelope.
#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_400() {
    use base64::Engine;
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let mut event: Value = serde_json::from_str(
        &fixture("create")
            .replace("__TOKEN__", &token)
            .replace("__IDEMPOTENCY_KEY__", &ulid::Ulid::generate().to_string()),
    )
    .unwrap();
    event["body"] = base64::engine::general_purpose::STANDARD.encode(b"\xff\xfe{\"name\": \"\xc3\x28\"}").into();
    event["isBase64Encoded"] = true.into();

    let (status, body, _) = dispatch(&app, &event.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
    assert_eq!(body["error"]["code"], "BAD_REQUEST");
}
