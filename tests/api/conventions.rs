//! Request ids and the envelope on routes that do not exist.

use doorstep_tests::{app, new_org};
use http::{Method, StatusCode};
use tower::ServiceExt;

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let echoed =
        app.call(Method::GET, "/api/v1/properties", Some(&token), None, &[("x-request-id", "client-abc-123")]).await;
    assert_eq!(echoed.header("x-request-id"), Some("client-abc-123"));
    assert_eq!(echoed.body["meta"]["request_id"], "client-abc-123");
    assert_eq!(echoed.body["meta"]["version"], "1.0.0");

    // An id that is unsafe to log is replaced, not echoed.
    let replaced =
        app.call(Method::GET, "/api/v1/properties", Some(&token), None, &[("x-request-id", "bad id\twith tabs")]).await;
    let id = replaced.header("x-request-id").unwrap();
    assert!(id.starts_with("req_"));
    assert_eq!(replaced.body["meta"]["request_id"], id);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    // API Gateway answers unmapped paths itself; the function's own fallback covers paths
    // that reach it without a route, such as a catch-all deployment.
    let request = http::Request::get("/api/v1/nothing-here")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.gateway.function("properties").oneshot(request).await.unwrap();
    let missing = doorstep_tests::TestResponse::read(response).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "RESOURCE_NOT_FOUND");

    let wrong_method = app.call(Method::DELETE, "/api/v1/properties", Some(&token), None, &[]).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "METHOD_NOT_ALLOWED");
}
