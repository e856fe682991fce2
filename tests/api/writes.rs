//! Bad input, optimistic concurrency and idempotency on writes.

use axum::body::Body;
use doorstep_tests::{app, new_org, property_body};
use futures::future::join_all;
use http::{Method, Request, StatusCode};
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_a_400_in_the_envelope() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let request = Request::post("/api/v1/properties")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"name\": \"Broken"))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.body["success"], false);
    assert_eq!(response.error_code(), "BAD_REQUEST");
    assert!(response.body["meta"]["request_id"].is_string());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let request = Request::post("/api/v1/properties")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body(Body::from(property_body("Plain").to_string()))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(response.error_code(), "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn invalid_fields_are_a_422_naming_each_field() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let body = json!({
        "name": "",
        "type": "castle",
        "address": {"street": "1 A St", "city": "B", "state": "C", "postal_code": "1"}
    });
    let response = app.post("/api/v1/properties", &token, &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.error_code(), "VALIDATION_ERROR");
    assert_eq!(response.body["error"]["details"][0]["field"], "type");

    let mut body = property_body("Ok name");
    body["total_value"] = json!(-1);
    body["address"]["country"] = json!("USA");
    let response = app.post("/api/v1/properties", &token, &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        response.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["address.country", "total_value"]);

    // Server-owned fields are refused, never written.
    let mut body = property_body("Mass assignment");
    body["version"] = json!(99);
    let response = app.post("/api/v1/properties", &token, &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.body["error"]["details"][0]["field"], "version");
    let listed = app.get("/api/v1/properties", &token).await;
    assert_eq!(listed.body["data"], json!([]));
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let mut body = property_body("Huge");
    body["name"] = json!("x".repeat(70 * 1024));
    let response = app.post("/api/v1/properties", &token, &body).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.error_code(), "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn a_stale_if_match_is_a_412_and_changes_nothing() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let id = app.create_property(&token, "Versioned").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");
    let first =
        app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"name": "First"})), &[("if-match", "\"1\"")]).await;
    assert_eq!(first.status, StatusCode::OK);

    let stale =
        app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"name": "Second"})), &[("if-match", "\"1\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.error_code(), "PRECONDITION_FAILED");
    let stale_delete = app.call(Method::DELETE, &uri, Some(&token), None, &[("if-match", "\"1\"")]).await;
    assert_eq!(stale_delete.status, StatusCode::PRECONDITION_FAILED);

    let current = app.get(&uri, &token).await;
    assert_eq!(current.body["data"]["name"], "First");
    assert_eq!(current.body["data"]["version"], 2);

    let malformed =
        app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"name": "x"})), &[("if-match", "v2")]).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_if_match_tag_never_issued_is_a_412_and_only_broken_syntax_a_400() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let id = app.create_property(&token, "Versioned").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");

    // Well-formed entity tags that match no version: a weak tag never matches under the
    // strong comparison that If-Match uses, even one that spells the current version.
    for tag in ["\"stale-0\"", "W/\"x\"", "W/\"1\"", "\"stale-0\", W/\"1\""] {
        let refused =
            app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"name": "Changed"})), &[("if-match", tag)]).await;
        assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED, "{tag}: {:?}", refused.body);
        assert_eq!(refused.error_code(), "PRECONDITION_FAILED");
    }
    let refused_delete = app.call(Method::DELETE, &uri, Some(&token), None, &[("if-match", "\"stale-0\"")]).await;
    assert_eq!(refused_delete.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.get(&uri, &token).await.body["data"]["name"], "Versioned");

    // A list holding the current version among unknown tags still matches.
    let listed = app
        .call(
            Method::PATCH,
            &uri,
            Some(&token),
            Some(&json!({"name": "Changed"})),
            &[("if-match", "\"stale-0\", \"1\"")],
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);

    for broken in ["\"unterminated", "W/unquoted", "\"a\"b\"", ","] {
        let malformed =
            app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"name": "x"})), &[("if-match", broken)]).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{broken}");
    }
}

#[tokio::test]
async fn concurrent_patches_with_the_same_if_match_have_exactly_one_winner() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let id = app.create_property(&token, "Contended").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");

    let attempts = (0..10).map(|i| {
        let body = json!({"name": format!("Writer {i}")});
        let (app, uri, token) = (&app, &uri, &token);
        async move { app.call(Method::PATCH, uri, Some(token), Some(&body), &[("if-match", "\"1\"")]).await }
    });
    let responses = join_all(attempts).await;
    let winners: Vec<_> = responses.iter().filter(|r| r.status == StatusCode::OK).collect();
    let losers = responses.iter().filter(|r| r.status == StatusCode::PRECONDITION_FAILED).count();
    assert_eq!(winners.len(), 1, "statuses: {:?}", responses.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(losers, 9);

    let stored = app.get(&uri, &token).await;
    assert_eq!(stored.body["data"]["version"], 2);
    assert_eq!(stored.body["data"]["name"], winners[0].body["data"]["name"]);
}

#[tokio::test]
async fn concurrent_patches_without_if_match_all_land() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let id = app.create_property(&token, "Busy").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");
    let patches = [json!({"name": "Renamed"}), json!({"status": "inactive"})];
    let responses = join_all(patches.iter().map(|p| app.call(Method::PATCH, &uri, Some(&token), Some(p), &[]))).await;
    assert!(responses.iter().all(|r| r.status == StatusCode::OK), "{responses:?}");
    let stored = app.get(&uri, &token).await;
    assert_eq!(stored.body["data"]["name"], "Renamed");
    assert_eq!(stored.body["data"]["status"], "inactive");
    assert_eq!(stored.body["data"]["version"], 3);
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_first_response_and_creates_nothing() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let body = property_body("Once Only");
    let headers = [("idempotency-key", "create-once-only-1")];
    let first = app.call(Method::POST, "/api/v1/properties", Some(&token), Some(&body), &headers).await;
    assert_eq!(first.status, StatusCode::CREATED);

    // The same body with keys in another order and other whitespace is the same request.
    let reordered: serde_json::Value = serde_json::from_str(&serde_json::to_string_pretty(&body).unwrap()).unwrap();
    let second = app.call(Method::POST, "/api/v1/properties", Some(&token), Some(&reordered), &headers).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.body["data"], first.body["data"]);
    assert_eq!(second.header("location"), first.header("location"));
    assert_eq!(second.header("idempotent-replayed"), Some("true"));

    let listed = app.get("/api/v1/properties", &token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);

    let mut other = body.clone();
    other["name"] = json!("Something Else");
    let conflict = app.call(Method::POST, "/api/v1/properties", Some(&token), Some(&other), &headers).await;
    assert_eq!(conflict.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(conflict.error_code(), "VALIDATION_ERROR");
    assert_eq!(app.get("/api/v1/properties", &token).await.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn idempotency_keys_are_per_organization() {
    let app = app().await;
    let headers = [("idempotency-key", "shared-key")];
    let a = app.token(&new_org(), &["OrganizationOwner"]);
    let b = app.token(&new_org(), &["OrganizationOwner"]);
    let first = app.call(Method::POST, "/api/v1/properties", Some(&a), Some(&property_body("A")), &headers).await;
    let second = app.call(Method::POST, "/api/v1/properties", Some(&b), Some(&property_body("B")), &headers).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::CREATED);
    assert_ne!(first.body["data"]["id"], second.body["data"]["id"]);
    assert_eq!(second.header("idempotent-replayed"), None);
}
