//! OAuth app registration through `/api/v1/identity/oauth/apps`.

use doorstep_tests::{app, new_org};
use http::{Method, StatusCode};
use serde_json::json;

use crate::oauth_flow::{REDIRECT_URI, register};

#[tokio::test]
async fn an_app_is_registered_with_a_secret_shown_once() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let response = app
        .post(
            "/api/v1/identity/oauth/apps",
            &owner,
            &json!({"name": "Ledger Sync", "description": "Books payments", "redirect_uris": [REDIRECT_URI], "scopes": ["read:payments", "read:properties"]}),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    let data = &response.body["data"];
    let client_id = data["client_id"].as_str().unwrap().to_owned();
    let secret = data["client_secret"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("dsc_"));
    assert!(secret.starts_with("dss_") && secret.len() > 40);
    assert_eq!(response.header("location"), Some(format!("/api/v1/identity/oauth/apps/{client_id}").as_str()));
    assert_eq!(data["scopes"], json!(["read:properties", "read:payments"]));
    assert_eq!(data["client_permissions"], json!(["property:read", "unit:read", "payment:read", "invoice:read"]));
    assert_eq!(data["redirect_uris"], json!([REDIRECT_URI]));

    let read = app.get(&format!("/api/v1/identity/oauth/apps/{client_id}"), &owner).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["data"]["name"], "Ledger Sync");
    assert!(read.body["data"].get("client_secret").is_none());
    assert!(!read.text.contains(&secret));
    let listed = app.get("/api/v1/identity/oauth/apps", &owner).await;
    assert_eq!(listed.body["data"][0]["client_id"], client_id.as_str());
    assert!(!listed.text.contains(&secret));

    // Another organization can neither see nor delete it.
    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let uri = format!("/api/v1/identity/oauth/apps/{client_id}");
    assert_eq!(app.get(&uri, &stranger).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::DELETE, &uri, Some(&stranger), None, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/identity/oauth/apps", &stranger).await.body["data"], json!([]));

    // Its owner can delete it, once.
    assert_eq!(app.call(Method::DELETE, &uri, Some(&owner), None, &[]).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&uri, &owner).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::DELETE, &uri, Some(&owner), None, &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn redirect_uris_must_be_https_without_fragments() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    let response = app
        .post(
            "/api/v1/identity/oauth/apps",
            &owner,
            &json!({
                "name": "Sloppy",
                "redirect_uris": ["http://app.example.com/cb", "https://app.example.com/cb#done", "/relative", "https://ok.example.com/cb", "https://ok.example.com/cb"],
                "scopes": ["read:properties", "admin:all"]
            }),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        response.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["redirect_uris[0]", "redirect_uris[1]", "redirect_uris[2]", "redirect_uris[4]", "scopes"]);
    let none = app.post("/api/v1/identity/oauth/apps", &owner, &json!({"name": "No URIs", "redirect_uris": []})).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Loopback http is fine for native apps and local development.
    let local = app
        .post(
            "/api/v1/identity/oauth/apps",
            &owner,
            &json!({"name": "Local", "redirect_uris": ["http://127.0.0.1:3000/cb"]}),
        )
        .await;
    assert_eq!(local.status, StatusCode::CREATED);
    assert_eq!(local.body["data"]["scopes"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn registering_apps_needs_the_oauth_app_permission() {
    let app = app().await;
    let org = new_org();
    let manager = app.token(&org, &["PropertyManager"]);
    let response = app
        .post("/api/v1/identity/oauth/apps", &manager, &json!({"name": "Nope", "redirect_uris": [REDIRECT_URI]}))
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(response.error_code(), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(app.get("/api/v1/identity/oauth/apps", &manager).await.status, StatusCode::FORBIDDEN);
    // An app's own token cannot manage apps either.
    let owner = crate::oauth_flow::user_token(&app, &org, &["OrganizationOwner"]).await;
    let client = register(&app, &owner, None).await;
    let tokens = crate::oauth_flow::tokens_for(&app, &owner, &client, "read:properties").await;
    let by_app = app.get("/api/v1/identity/oauth/apps", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(by_app.status, StatusCode::FORBIDDEN);
}
