//! The identity fixtures in `events/identity/` (the token endpoint and an API-key call)
//! pushed through `lambda_http`, as the Lambda runtime would deliver them.

use axum::body::Body;
use doorstep_tests::{TestApp, app, new_org};
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Pushes `events/identity/<name>.json`, with its placeholders replaced, through `lambda_http`.
pub async fn invoke(app: &TestApp, name: &str, replacements: &[(&str, &str)]) -> (StatusCode, Value, http::HeaderMap) {
    let path = format!("{}/../events/identity/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut event = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (placeholder, value) in replacements {
        event = event.replace(placeholder, value);
    }
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
    let response = app.gateway.router_for(&request).oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let html = headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let body = if bytes.is_empty() || html { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, body, headers)
}

#[tokio::test]
async fn the_identity_fixtures_run_through_lambda_http() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    app.create_property(&owner, "Fixture Court").await;

    // An API key is created from the fixture and then authenticates.
    let (status, created, headers) = invoke(&app, "api-key-create", &[("__TOKEN__", &owner)]).await;
    assert_eq!(status, StatusCode::CREATED, "{created:?}");
    assert_eq!(headers.get("x-request-id").unwrap(), "req-fixture-api-key-create");
    assert_eq!(created["data"]["name"], "Nightly accounting export");
    let key = created["data"]["key"].as_str().unwrap();
    let listed = app.call(http::Method::GET, "/api/v1/properties", None, None, &[("x-api-key", key)]).await;
    assert_eq!(listed.status, StatusCode::OK);

    // The token endpoint answers the form-encoded client_credentials fixture.
    let client = crate::oauth_flow::register(&app, &owner, Some(&["read:properties"])).await;
    let (status, tokens, headers) =
        invoke(&app, "oauth-token", &[("__CLIENT_ID__", &client.id), ("__CLIENT_SECRET__", &client.secret)]).await;
    assert_eq!(status, StatusCode::OK, "{tokens:?}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "read:properties");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let read = app.get("/api/ai/properties", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["properties"][0]["address"], "123 Main St");

    // With a wrong secret, the same fixture is an RFC 6749 invalid_client.
    let (status, error, _) =
        invoke(&app, "oauth-token", &[("__CLIENT_ID__", &client.id), ("__CLIENT_SECRET__", "dss_wrong")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"], "invalid_client");
}
