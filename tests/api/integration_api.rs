//! The integration API's `/api/ai/properties` routes: exact shape, scopes.

use doorstep_tests::{app, claims, new_org};
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn the_list_has_exactly_the_seed_shape() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let created = app.create_property(&token, "Seed Shaped").await;

    let response = app.get("/api/ai/properties", &token).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.body,
        json!({"properties": [{
            "id": created["id"],
            "address": "123 Main St",
            "city": "San Francisco",
            "state": "CA",
            "units": 0,
            "total_value": 1200000,
            "occupancy_rate": 0
        }]})
    );
    assert!(response.header("link").is_none());

    let detail = app.get(&format!("/api/ai/properties/{}", created["id"].as_str().unwrap()), &token).await;
    assert_eq!(detail.status, StatusCode::OK);
    let property = &detail.body["property"];
    for key in ["id", "address", "city", "state", "units", "total_value", "occupancy_rate"] {
        assert_eq!(property[key], response.body["properties"][0][key], "{key}");
    }
    assert_eq!(property["name"], "Seed Shaped");
}

#[tokio::test]
async fn the_list_pages_with_a_link_header() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    for i in 0..3 {
        app.create_property(&token, &format!("P{i}")).await;
    }
    let first = app.get("/api/ai/properties?page_size=2", &token).await;
    assert_eq!(first.body["properties"].as_array().unwrap().len(), 2);
    let link = first.header("link").unwrap();
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let second = app.get(next, &token).await;
    assert_eq!(second.body["properties"].as_array().unwrap().len(), 1);
    assert!(second.header("link").is_none());
}

#[tokio::test]
async fn oauth_tokens_need_the_read_properties_scope() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    app.create_property(&owner, "Scoped").await;

    let mut scoped = claims(&app.services.config, &org, &["OrganizationOwner"]);
    scoped.scope = Some("read:properties".into());
    scoped.client_id = Some("app_01".into());
    let scoped = app.sign(&scoped);
    let ok = app.get("/api/ai/properties", &scoped).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["properties"].as_array().unwrap().len(), 1);
    // The scope allows reading, never writing.
    let write = app
        .call(Method::POST, "/api/v1/properties", Some(&scoped), Some(&doorstep_tests::property_body("No")), &[])
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.error_code(), "INSUFFICIENT_PERMISSIONS");

    let mut unscoped = claims(&app.services.config, &org, &["OrganizationOwner"]);
    unscoped.scope = Some("read:payments".into());
    unscoped.client_id = Some("app_02".into());
    let denied = app.get("/api/ai/properties", &app.sign(&unscoped)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.error_code(), "INSUFFICIENT_PERMISSIONS");
}
