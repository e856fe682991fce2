//! Users and roles: nobody grants what they lack; the last owner stays.

use doorstep_tests::{TestApp, app};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::identity_support::{PASSWORD, new_email, register, tokens};

async fn create_user(app: &TestApp, token: &str, roles: Value, permissions: Value) -> (StatusCode, Value) {
    let body = json!({"email": new_email("member"), "password": PASSWORD, "first_name": "Mem", "last_name": "Ber",
        "roles": roles, "permissions": permissions});
    let response = app.post("/api/v1/identity/users", token, &body).await;
    (response.status, response.body)
}

/// A new organization and its owner's access token.
async fn organization(app: &TestApp) -> (String, String, Value) {
    let email = new_email("owner");
    let registered = register(app, &email).await;
    let (access, _) = tokens(app, &email, PASSWORD).await;
    (access, email, registered)
}

#[tokio::test]
async fn nobody_grants_a_role_or_permission_they_lack() {
    let app = app().await;
    let (owner, _, _) = organization(&app).await;

    // A property manager who may also add users (an explicit grant by the owner)
    let body = json!({"email": new_email("pm"), "password": PASSWORD, "first_name": "Pat", "last_name": "Manager",
        "roles": ["PropertyManager"], "permissions": ["user:create"]});
    let created = app.post("/api/v1/identity/users", &owner, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert!(created.header("location").unwrap().ends_with(created.body["data"]["id"].as_str().unwrap()));
    assert!(created.body["data"].get("password_hash").is_none());
    let (manager, _) = tokens(&app, body["email"].as_str().unwrap(), PASSWORD).await;

    // cannot create an owner, nor grant a permission beyond their own
    let (status, error) = create_user(&app, &manager, json!(["OrganizationOwner"]), json!([])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["error"]["code"], "INSUFFICIENT_PERMISSIONS");
    let (status, _) = create_user(&app, &manager, json!(["Tenant"]), json!(["property:delete"])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // but can add a tenant, whose permissions they hold
    let (status, tenant) = create_user(&app, &manager, json!(["Tenant"]), json!([])).await;
    assert_eq!(status, StatusCode::CREATED, "{tenant:?}");

    // A plain property manager cannot create users at all
    let (status, plain) = create_user(&app, &owner, json!(["PropertyManager"]), json!([])).await;
    assert_eq!(status, StatusCode::CREATED, "{plain:?}");
    let (plain_token, _) = tokens(&app, plain["data"]["email"].as_str().unwrap(), PASSWORD).await;
    let (status, _) = create_user(&app, &plain_token, json!(["Tenant"]), json!([])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Nothing of the refused requests was stored
    let listed = app.get("/api/v1/identity/users?page_size=100", &owner).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_or_demoted() {
    let app = app().await;
    let (owner, _, registered) = organization(&app).await;
    let owner_id = registered["user"]["id"].as_str().unwrap();
    let me = format!("/api/v1/identity/users/{owner_id}");

    let delete = app.call(Method::DELETE, &me, Some(&owner), None, &[]).await;
    assert_eq!(delete.status, StatusCode::CONFLICT);
    let demote = app
        .call(Method::PUT, &format!("{me}/roles"), Some(&owner), Some(&json!({"roles": ["PropertyManager"]})), &[])
        .await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    let disable = app
        .call(
            Method::PUT,
            &me,
            Some(&owner),
            Some(&json!({"first_name": "O", "last_name": "W", "status": "disabled"})),
            &[],
        )
        .await;
    assert_eq!(disable.status, StatusCode::CONFLICT);
    assert_eq!(app.get(&me, &owner).await.body["data"]["roles"], json!(["OrganizationOwner"]));

    // With a second owner, one may go
    let (status, second) = create_user(&app, &owner, json!(["OrganizationOwner"]), json!([])).await;
    assert_eq!(status, StatusCode::CREATED);
    let demoted = app
        .call(Method::PUT, &format!("{me}/roles"), Some(&owner), Some(&json!({"roles": ["PropertyManager"]})), &[])
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{:?}", demoted.body);
    assert_eq!(demoted.body["data"]["roles"], json!(["PropertyManager"]));
    // and now the second is the last
    let (second_token, _) = tokens(&app, second["data"]["email"].as_str().unwrap(), PASSWORD).await;
    let second_uri = format!("/api/v1/identity/users/{}", second["data"]["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::DELETE, &second_uri, Some(&second_token), None, &[]).await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn two_owners_removing_each_other_at_once_leave_one() {
    let app = app().await;
    let (first, _, registered) = organization(&app).await;
    let (status, second) = create_user(&app, &first, json!(["OrganizationOwner"]), json!([])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (second_token, _) = tokens(&app, second["data"]["email"].as_str().unwrap(), PASSWORD).await;
    let first_uri = format!("/api/v1/identity/users/{}", registered["user"]["id"].as_str().unwrap());
    let second_uri = format!("/api/v1/identity/users/{}", second["data"]["id"].as_str().unwrap());

    let (a, b) = tokio::join!(
        app.call(Method::DELETE, &second_uri, Some(&first), None, &[]),
        app.call(Method::DELETE, &first_uri, Some(&second_token), None, &[]),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::CONFLICT]);
    let remaining = app.get("/api/v1/identity/users", &first).await;
    assert_eq!(remaining.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn users_are_paged_and_scoped_to_their_organization() {
    let app = app().await;
    let (owner, _, _) = organization(&app).await;
    for _ in 0..2 {
        assert_eq!(create_user(&app, &owner, json!(["Tenant"]), json!([])).await.0, StatusCode::CREATED);
    }
    let first = app.get("/api/v1/identity/users?page_size=2", &owner).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["meta"]["pagination"]["has_next"], true);
    let cursor = first.body["meta"]["pagination"]["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/api/v1/identity/users?page_size=2&cursor={cursor}"), &owner).await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["meta"]["pagination"]["has_next"], false);
    assert!(first.text.find("password").is_none() && second.text.find("password").is_none());

    // Another organization sees none of it
    let (stranger, _, _) = organization(&app).await;
    let some_id = first.body["data"][1]["id"].as_str().unwrap();
    let foreign = app.get(&format!("/api/v1/identity/users/{some_id}"), &stranger).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let foreign_cursor = app.get(&format!("/api/v1/identity/users?cursor={cursor}"), &stranger).await;
    assert_eq!(foreign_cursor.status, StatusCode::BAD_REQUEST);
    let foreign_delete =
        app.call(Method::DELETE, &format!("/api/v1/identity/users/{some_id}"), Some(&stranger), None, &[]).await;
    assert_eq!(foreign_delete.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_are_updated_with_optimistic_concurrency() {
    let app = app().await;
    let (owner, _, _) = organization(&app).await;
    let (_, tenant) = create_user(&app, &owner, json!(["Tenant"]), json!([])).await;
    let uri = format!("/api/v1/identity/users/{}", tenant["data"]["id"].as_str().unwrap());
    let read = app.get(&uri, &owner).await;
    assert_eq!(read.header("etag"), Some("\"1\""));
    let body = json!({"first_name": "Tina", "last_name": "Tenant", "status": "active",
        "tenant_profile_id": "ten_01JD3M00000000000000000042"});
    let updated = app.call(Method::PUT, &uri, Some(&owner), Some(&body), &[("if-match", "\"1\"")]).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["data"]["tenant_profile_id"], "ten_01JD3M00000000000000000042");
    assert_eq!(updated.body["data"]["version"], 2);
    let stale = app.call(Method::PUT, &uri, Some(&owner), Some(&body), &[("if-match", "\"1\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let roles = app.get(&format!("{uri}/roles"), &owner).await;
    assert_eq!(roles.body["data"]["roles"], json!(["Tenant"]));
    assert!(roles.body["data"]["effective_permissions"].as_array().unwrap().contains(&json!("maintenance:create")));
}

#[tokio::test]
async fn roles_and_the_permission_matrix_are_published() {
    let app = app().await;
    let (owner, _, _) = organization(&app).await;
    let matrix = app.get("/api/v1/identity/permissions", &owner).await;
    assert_eq!(matrix.status, StatusCode::OK);
    assert_eq!(matrix.body["data"]["roles"]["SuperAdmin"], json!(["*"]));
    assert!(matrix.body["data"]["roles"]["PropertyManager"].as_array().unwrap().contains(&json!("property:update")));
    let roles = app.get("/api/v1/identity/roles", &owner).await;
    assert_eq!(roles.body["data"].as_array().unwrap().len(), 7);
    let tenant = app.get("/api/v1/identity/roles/Tenant/permissions", &owner).await;
    assert!(tenant.body["data"].as_array().unwrap().contains(&json!("unit:read")));
    assert_eq!(app.get("/api/v1/identity/roles/Admin", &owner).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_edits_do_not_revert_sign_in_counters() {
    let app = app().await;
    let (_, _, registered) = organization(&app).await;
    let org_id = registered["organization"]["id"].as_str().unwrap();
    let user_id = registered["user"]["id"].as_str().unwrap();
    let store = identity::store::AccountStore::new(&app.services.store);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // An administrator's edit reads the user
    let read = store.get_user(org_id, user_id).await.unwrap().unwrap();
    assert_eq!(read.failed_logins, 0);
    // then a wrong password is counted
    let counted = store.reserve_attempt(org_id, user_id, 5, now, now - 900).await.unwrap().unwrap();
    assert_eq!(counted.failed_logins, 1);
    // then the edit is written on the version it read
    let mut edited = read.clone();
    edited.first_name = "Renamed".to_owned();
    edited.version = read.version + 1;
    let written = store.replace_user(&edited, read.version, 0).await.unwrap();
    assert_eq!(written, identity::store::Written::Done);

    // The edit is kept and so is the count: the edit wrote only the fields it owns
    let stored = store.get_user(org_id, user_id).await.unwrap().unwrap();
    assert_eq!(stored.first_name, "Renamed");
    assert_eq!(stored.failed_logins, 1, "the failure count was reverted by the edit");
}
