//! API keys through `/api/v1/identity/api-keys`: create, use, list, revoke.

use doorstep_tests::{TestApp, TestResponse, app, new_org};
use http::{Method, StatusCode};
use serde_json::{Value, json};

async fn create_key(app: &TestApp, token: &str, body: &Value) -> TestResponse {
    app.post("/api/v1/identity/api-keys", token, body).await
}

async fn with_key(app: &TestApp, method: Method, uri: &str, key: &str, body: Option<&Value>) -> TestResponse {
    app.call(method, uri, None, body, &[("x-api-key", key)]).await
}

#[tokio::test]
async fn an_api_key_works_until_it_is_revoked_and_its_secret_is_shown_once() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    app.create_property(&owner, "Keyed Towers").await;

    // Given a key created with property:read...
    let created = create_key(&app, &owner, &json!({"name": "Reporting", "permissions": ["property:read"]})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let data = &created.body["data"];
    let id = data["id"].as_str().unwrap().to_owned();
    let key = data["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("dsk_"));
    assert!(key.starts_with(data["prefix"].as_str().unwrap()));
    assert!(key.len() > data["prefix"].as_str().unwrap().len() + 32, "the prefix hides the secret");
    assert_eq!(created.header("location"), Some(format!("/api/v1/identity/api-keys/{id}").as_str()));
    assert_eq!(data["permissions"], json!(["property:read"]));
    assert_eq!(data["plan"], "standard");
    assert_eq!(data["status"], "active");
    let secret = key.splitn(4, '_').nth(3).unwrap().to_owned();

    // ...it reads the organization's properties, and only reads.
    let listed = with_key(&app, Method::GET, "/api/v1/properties", &key, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["data"][0]["name"], "Keyed Towers");
    let write =
        with_key(&app, Method::POST, "/api/v1/properties", &key, Some(&doorstep_tests::property_body("No"))).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);

    // The secret is never shown again.
    let read = app.get(&format!("/api/v1/identity/api-keys/{id}"), &owner).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body["data"].get("key").is_none());
    assert!(!read.text.contains(&secret));
    let all = app.get("/api/v1/identity/api-keys", &owner).await;
    assert_eq!(all.body["data"][0]["id"], id.as_str());
    assert!(!all.text.contains(&secret));
    // The store keeps a digest only.
    let record = app.services.store.api_keys().get(&org, &id).await.unwrap().unwrap();
    assert_ne!(record.secret_hash, secret);
    assert_eq!(record.secret_hash, shared::auth::api_key::digest(&secret));

    // Its use is recorded (off the request path, so it may land just after the answer).
    let recorded = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let record = app.services.store.api_keys().get(&org, &id).await.unwrap().unwrap();
            if let Some(at) = record.last_used_at {
                return at;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("last_used_at is recorded");
    let shown = app.get(&format!("/api/v1/identity/api-keys/{id}"), &owner).await;
    assert_eq!(shown.body["data"]["last_used_at"], shared::time_format::format(recorded));

    // When it is revoked, it stops authenticating.
    let revoked = app.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{id}"), Some(&owner), None, &[]).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let refused = with_key(&app, Method::GET, "/api/v1/properties", &key, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_code(), "AUTHENTICATION_FAILED");
    let after = app.get(&format!("/api/v1/identity/api-keys/{id}"), &owner).await;
    assert_eq!(after.body["data"]["status"], "revoked");
    assert!(after.body["data"]["revoked_at"].is_string());
    let twice = app.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{id}"), Some(&owner), None, &[]).await;
    assert_eq!(twice.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn last_use_is_written_at_most_once_a_minute() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let created = create_key(&app, &owner, &json!({"name": "Busy", "permissions": ["property:read"]})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let keys = app.services.store.api_keys();
    let now = shared::time_format::now();

    assert!(keys.touch_last_used(&org, &id, now).await.unwrap());
    assert!(!keys.touch_last_used(&org, &id, now + time::Duration::seconds(30)).await.unwrap());
    assert!(keys.touch_last_used(&org, &id, now + time::Duration::seconds(61)).await.unwrap());
    let stored = keys.get(&org, &id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(now + time::Duration::seconds(61)));
    // A key that does not exist is never created by a touch.
    let ghost = shared::domain::ids::new("key");
    assert!(!keys.touch_last_used(&org, &ghost, now).await.unwrap());
    assert!(keys.get(&org, &ghost).await.unwrap().is_none());
}

#[tokio::test]
async fn a_caller_cannot_grant_permissions_it_does_not_hold() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);

    // An owner holds property:* but not "*".
    let everything = create_key(&app, &owner, &json!({"name": "God mode", "permissions": ["*"]})).await;
    assert_eq!(everything.status, StatusCode::FORBIDDEN);
    assert_eq!(everything.error_code(), "INSUFFICIENT_PERMISSIONS");
    let visitors = create_key(&app, &owner, &json!({"name": "Visitors", "permissions": ["visitor:read"]})).await;
    assert_eq!(visitors.status, StatusCode::FORBIDDEN);
    // A property manager may not create keys at all.
    let manager = app.token(&org, &["PropertyManager"]);
    let by_manager = create_key(&app, &manager, &json!({"name": "Mine", "permissions": ["property:read"]})).await;
    assert_eq!(by_manager.status, StatusCode::FORBIDDEN);

    // A key that may create keys can hand on only what it holds itself.
    let delegate =
        create_key(&app, &owner, &json!({"name": "Provisioner", "permissions": ["apikey:create", "property:read"]}))
            .await;
    assert_eq!(delegate.status, StatusCode::CREATED);
    let delegate_key = delegate.body["data"]["key"].as_str().unwrap().to_owned();
    let wider = with_key(
        &app,
        Method::POST,
        "/api/v1/identity/api-keys",
        &delegate_key,
        Some(&json!({"name": "Wider", "permissions": ["property:*"]})),
    )
    .await;
    assert_eq!(wider.status, StatusCode::FORBIDDEN);
    let same = with_key(
        &app,
        Method::POST,
        "/api/v1/identity/api-keys",
        &delegate_key,
        Some(&json!({"name": "Same", "permissions": ["property:read"]})),
    )
    .await;
    assert_eq!(same.status, StatusCode::CREATED, "{:?}", same.body);
    // It cannot list keys: it was not given apikey:read.
    let list = with_key(&app, Method::GET, "/api/v1/identity/api-keys", &delegate_key, None).await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn invalid_key_requests_are_422_with_details() {
    let app = app().await;
    let owner = app.token(&new_org(), &["OrganizationOwner"]);
    let response = create_key(
        &app,
        &owner,
        &json!({"name": " ", "permissions": ["Property:Read", "property:read"], "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        response.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["name", "permissions[0]", "expires_at"]);
    let empty = create_key(&app, &owner, &json!({"name": "x", "permissions": []})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mass_assignment =
        create_key(&app, &owner, &json!({"name": "x", "permissions": ["property:read"], "org_id": new_org()})).await;
    assert_eq!(mass_assignment.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mass_assignment.body["error"]["details"][0]["field"], "org_id");

    // An expiry in the future is kept and shown.
    let expiring = create_key(
        &app,
        &owner,
        &json!({"name": "Temp", "permissions": ["property:read"], "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(expiring.status, StatusCode::CREATED);
    assert_eq!(expiring.body["data"]["expires_at"], "2099-01-01T00:00:00.000000Z");
}

#[tokio::test]
async fn another_organizations_key_is_not_found() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let created = create_key(&app, &owner, &json!({"name": "Mine", "permissions": ["property:read"]})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let key = created.body["data"]["key"].as_str().unwrap().to_owned();

    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let read = app.get(&format!("/api/v1/identity/api-keys/{id}"), &stranger).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    assert_eq!(read.error_code(), "RESOURCE_NOT_FOUND");
    let revoke = app.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{id}"), Some(&stranger), None, &[]).await;
    assert_eq!(revoke.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/identity/api-keys", &stranger).await.body["data"], json!([]));
    // The key still works for its own organization.
    assert_eq!(with_key(&app, Method::GET, "/api/v1/properties", &key, None).await.status, StatusCode::OK);
    // Ids that cannot exist are 404 too.
    for bogus in ["nope", "prop_01JD3M00000000000000000000"] {
        assert_eq!(app.get(&format!("/api/v1/identity/api-keys/{bogus}"), &owner).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn api_keys_list_in_pages_with_cursors_bound_to_the_organization() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    for name in ["one", "two", "three"] {
        let created = create_key(&app, &owner, &json!({"name": name, "permissions": ["property:read"]})).await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let first = app.get("/api/v1/identity/api-keys?page_size=2", &owner).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["data"][0]["name"], "one");
    assert_eq!(first.body["meta"]["pagination"]["has_next"], true);
    let cursor = first.body["meta"]["pagination"]["next_cursor"].as_str().unwrap().to_owned();
    let second = app.get(&format!("/api/v1/identity/api-keys?page_size=2&cursor={cursor}"), &owner).await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["data"][0]["name"], "three");
    assert_eq!(second.body["meta"]["pagination"]["has_next"], false);

    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let foreign = app.get(&format!("/api/v1/identity/api-keys?cursor={cursor}"), &stranger).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    let unknown = app.get("/api/v1/identity/api-keys?sort_by=name", &owner).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_expired_key_no_longer_authenticates() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let created = create_key(&app, &owner, &json!({"name": "Short-lived", "permissions": ["property:read"]})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let key = created.body["data"]["key"].as_str().unwrap().to_owned();
    assert_eq!(with_key(&app, Method::GET, "/api/v1/properties", &key, None).await.status, StatusCode::OK);

    // Given a key whose validity has passed (written directly: the API only accepts future times)...
    let mut record = app.services.store.api_keys().get(&org, &id).await.unwrap().unwrap();
    record.valid_until = Some(shared::time_format::now() - time::Duration::seconds(1));
    record.id = shared::domain::ids::new("key");
    app.services.store.api_keys().insert(&record).await.unwrap();
    let expired_key = shared::auth::api_key::format(&org, &record.id, key.splitn(4, '_').nth(3).unwrap());

    // ...it is refused, and listed as expired.
    let refused = with_key(&app, Method::GET, "/api/v1/properties", &expired_key, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let shown = app.get(&format!("/api/v1/identity/api-keys/{}", record.id), &owner).await;
    assert_eq!(shown.body["data"]["status"], "expired");
}
