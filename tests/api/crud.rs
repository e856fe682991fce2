//! The create → read → update → delete flow, and organization isolation.

use doorstep_tests::{app, new_org, property_body};
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_property_goes_through_its_whole_life() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);

    // Create
    let created = app.post("/api/v1/properties", &token, &property_body("Sunset Apartments")).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["success"], true);
    let data = &created.body["data"];
    let id = data["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("prop_"));
    assert_eq!(created.header("location"), Some(format!("/api/v1/properties/{id}").as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert!(created.text.contains(r#""total_value":1200000.00"#), "{}", created.text);
    assert_eq!(data["version"], 1);
    assert_eq!(data["unit_count"], 0);
    assert_eq!(data["status"], "active");
    assert!(created.body["meta"]["request_id"].as_str().is_some_and(|r| !r.is_empty()));

    // Read
    let uri = format!("/api/v1/properties/{id}");
    let read = app.get(&uri, &token).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["data"], *data);
    assert_eq!(read.header("etag"), Some("\"1\""));

    // Replace with If-Match
    let mut replacement = property_body("Sunset Towers");
    replacement["type"] = json!("mixed");
    let replaced = app.call(Method::PUT, &uri, Some(&token), Some(&replacement), &[("if-match", "\"1\"")]).await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    assert_eq!(replaced.body["data"]["name"], "Sunset Towers");
    assert_eq!(replaced.body["data"]["type"], "mixed");
    assert_eq!(replaced.body["data"]["created_at"], data["created_at"]);
    assert_eq!(replaced.header("etag"), Some("\"2\""));

    // Patch: only the named fields change; address merges
    let patch = json!({"address": {"city": "Oakland"}, "total_value": 1500000.25});
    let patched = app.call(Method::PATCH, &uri, Some(&token), Some(&patch), &[("if-match", "\"2\"")]).await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["data"]["address"]["city"], "Oakland");
    assert_eq!(patched.body["data"]["address"]["street"], "123 Main St");
    assert_eq!(patched.body["data"]["name"], "Sunset Towers");
    assert!(patched.text.contains(r#""total_value":1500000.25"#), "{}", patched.text);
    assert_eq!(patched.body["data"]["version"], 3);

    // Delete, then it is gone
    let deleted = app.call(Method::DELETE, &uri, Some(&token), None, &[("if-match", "\"3\"")]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, serde_json::Value::Null);
    let gone = app.get(&uri, &token).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error_code(), "RESOURCE_NOT_FOUND");
    let again = app.call(Method::DELETE, &uri, Some(&token), None, &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_organization_sees_nothing_and_gets_404() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let id = app.create_property(&owner, "Private Place").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");

    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        let body = match method {
            Method::PUT => Some(property_body("Taken Over")),
            Method::PATCH => Some(json!({"name": "Taken Over"})),
            _ => None,
        };
        let response = app.call(method.clone(), &uri, Some(&stranger), body.as_ref(), &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} by another organization");
        assert_eq!(response.error_code(), "RESOURCE_NOT_FOUND");
    }
    let ai = app.get(&format!("/api/ai/properties/{id}"), &stranger).await;
    assert_eq!(ai.status, StatusCode::NOT_FOUND);
    let listed = app.get("/api/v1/properties", &stranger).await;
    assert_eq!(listed.body["data"], json!([]));

    // The owner's property is untouched.
    let mine = app.get(&uri, &owner).await;
    assert_eq!(mine.body["data"]["name"], "Private Place");
    assert_eq!(mine.body["data"]["version"], 1);
}

#[tokio::test]
async fn a_superadmin_may_act_in_a_named_organization_and_nobody_else_may() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let id = app.create_property(&owner, "Audited").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");

    let admin = app.token(&new_org(), &["SuperAdmin"]);
    let as_admin = app.call(Method::GET, &uri, Some(&admin), None, &[("x-organization-id", &org)]).await;
    assert_eq!(as_admin.status, StatusCode::OK);
    assert_eq!(as_admin.body["data"]["id"], id);

    let other_owner = app.token(&new_org(), &["OrganizationOwner"]);
    let refused = app.call(Method::GET, &uri, Some(&other_owner), None, &[("x-organization-id", &org)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "INSUFFICIENT_PERMISSIONS");
}

#[tokio::test]
async fn a_superadmin_org_switch_is_honoured_only_on_their_own_session_token() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let id = app.create_property(&owner, "Audited").await["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/properties/{id}");
    let home = new_org();

    // An OAuth app acting for a SuperAdmin may not leave the organization it was granted in.
    let mut app_claims = doorstep_tests::claims(&app.services.config, &home, &["SuperAdmin"]);
    app_claims.scope = Some("read:properties".into());
    app_claims.client_id = Some("app_01JD0000000000000000000000".into());
    let app_token = app.sign(&app_claims);
    let as_app = app.call(Method::GET, &uri, Some(&app_token), None, &[("x-organization-id", &org)]).await;
    assert_eq!(as_app.status, StatusCode::FORBIDDEN, "{:?}", as_app.body);
    assert_eq!(as_app.error_code(), "INSUFFICIENT_PERMISSIONS");
    assert!(as_app.body.get("data").is_none());
    // In its own organization the app token still works.
    assert_eq!(app.call(Method::GET, "/api/v1/properties", Some(&app_token), None, &[]).await.status, StatusCode::OK);

    // Nor may a SuperAdmin's API key.
    let admin = app.token(&home, &["SuperAdmin"]);
    let created = app.post("/api/v1/identity/api-keys", &admin, &json!({"name": "Ops", "permissions": ["*"]})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["data"]["key"].as_str().unwrap().to_owned();
    let as_key = app.call(Method::GET, &uri, None, None, &[("x-api-key", &key), ("x-organization-id", &org)]).await;
    assert_eq!(as_key.status, StatusCode::FORBIDDEN, "{:?}", as_key.body);
    let own = app
        .call(Method::GET, "/api/v1/properties", None, None, &[("x-api-key", &key), ("x-organization-id", &home)])
        .await;
    assert_eq!(own.status, StatusCode::OK);

    // The SuperAdmin's own session token still may.
    let as_admin = app.call(Method::GET, &uri, Some(&admin), None, &[("x-organization-id", &org)]).await;
    assert_eq!(as_admin.status, StatusCode::OK);
}

#[tokio::test]
async fn ids_that_cannot_exist_are_a_404_not_an_error() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let oversized = "p".repeat(2048);
    for id in ["prop_nope", "unit_01JD3M00000000000000000000", oversized.as_str(), "prop_01JD3M00000000000000000000"] {
        for uri in [format!("/api/v1/properties/{id}"), format!("/api/ai/properties/{id}")] {
            let response = app.get(&uri, &token).await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", &uri[..uri.len().min(60)]);
            assert_eq!(response.error_code(), "RESOURCE_NOT_FOUND");
        }
        let patch = app
            .call(Method::PATCH, &format!("/api/v1/properties/{id}"), Some(&token), Some(&json!({"name": "x"})), &[])
            .await;
        assert_eq!(patch.status, StatusCode::NOT_FOUND);
    }
}
