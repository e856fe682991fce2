//! Tenants: a tenant sees only their own tenancy, renters in the integration API's shape,
//! and another organization gets 404 for every unit, tenant and lease id.

use super::{day, lease, property, tenant, terms, unit_id};
use doorstep_tests::{app, claims, new_org};
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_tenant_sees_only_their_own_tenancy() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let mine = unit_id(&app, &token, &prop, "T1").await;
    let theirs = unit_id(&app, &token, &prop, "T2").await;
    let me = tenant(&app, &token, &prop, "Me Tenant", "me@example.com", "+15550113").await;
    let them = tenant(&app, &token, &prop, "Them Tenant", "them@example.com", "+15550114").await;
    let my_lease = lease(&app, &token, &prop, &me, terms(&mine, &day(-5), &day(200))).await.body["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let their_lease = lease(&app, &token, &prop, &them, terms(&theirs, &day(-5), &day(200))).await.body["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut tenant_claims = claims(&app.services.config, &org, &["Tenant"]);
    tenant_claims.tenant_profile_id = Some(me.clone());
    let tenant_token = app.sign(&tenant_claims);

    // Their own lease, tenant record and unit: visible
    assert_eq!(app.get(&format!("/api/v1/leases/{my_lease}"), &tenant_token).await.status, StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/properties/{prop}/tenants/{me}"), &tenant_token).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/v1/properties/{prop}/tenants/{me}/lease"), &tenant_token).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get(&format!("/api/v1/properties/{prop}/units/{mine}"), &tenant_token).await.status, StatusCode::OK);
    // Another tenant's: 404, exactly as a foreign id
    for uri in [
        format!("/api/v1/leases/{their_lease}"),
        format!("/api/v1/properties/{prop}/tenants/{them}"),
        format!("/api/v1/properties/{prop}/tenants/{them}/lease"),
        format!("/api/v1/properties/{prop}/units/{theirs}"),
        format!("/api/v1/properties/{prop}/units/{theirs}/status"),
    ] {
        let response = app.get(&uri, &tenant_token).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(response.error_code(), "RESOURCE_NOT_FOUND");
    }
    // Listings and feeds hold only their own
    let leases = app.get("/api/v1/leases", &tenant_token).await;
    assert_eq!(leases.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(leases.body["data"][0]["id"], my_lease.as_str());
    let asked = app.get(&format!("/api/v1/leases?tenant_id={them}"), &tenant_token).await;
    assert_eq!(asked.body["data"], json!([]));
    let units = app.get(&format!("/api/v1/properties/{prop}/units"), &tenant_token).await;
    assert_eq!(units.body["data"].as_array().unwrap().len(), 1);
    let feed = app.get("/units?isActive=true", &tenant_token).await;
    assert_eq!(feed.body.as_array().unwrap().len(), 1);
    assert_eq!(feed.body[0]["ID"], mine.as_str());
    let lease_feed = app.get("/leases?isActive=true", &tenant_token).await;
    assert_eq!(lease_feed.body.as_array().unwrap().len(), 1);
    let tenants = app.get(&format!("/api/v1/properties/{prop}/tenants"), &tenant_token).await;
    assert_eq!(tenants.body["data"].as_array().unwrap().len(), 1);
    // and cannot write
    let write = lease(&app, &tenant_token, &prop, &me, terms(&mine, &day(300), &day(400))).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn renters_have_exactly_the_integration_api_shape() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let unit = unit_id(&app, &token, &prop, "R1").await;
    let ten = tenant(&app, &token, &prop, "John Doe", "john.doe@example.com", "+15550116").await;
    let created = lease(&app, &token, &prop, &ten, terms(&unit, &day(-10), &day(355))).await;
    assert_eq!(created.status, StatusCode::CREATED);

    let mut oauth = claims(&app.services.config, &org, &["OrganizationOwner"]);
    oauth.scope = Some("read:renters read:payments".into());
    oauth.client_id = Some("app_test".into());
    let response = app.get("/api/ai/renters", &app.sign(&oauth)).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(
        response.body,
        json!({"renters": [{"id": ten, "name": "John Doe", "property_id": prop, "lease_start": day(-10),
            "lease_end": day(355), "rent_amount": 2400, "payment_status": "current"}]})
    );
    // Without read:payments the payment fields are left out
    oauth.scope = Some("read:renters".into());
    let response = app.get("/api/ai/renters", &app.sign(&oauth)).await;
    assert_eq!(response.body["renters"][0].get("payment_status"), None, "{:?}", response.body);
    assert_eq!(response.body["renters"][0]["rent_amount"], 2400);
    let mut wrong = claims(&app.services.config, &org, &["OrganizationOwner"]);
    wrong.scope = Some("read:properties".into());
    assert_eq!(app.get("/api/ai/renters", &app.sign(&wrong)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_organization_gets_404_for_every_id() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let unit = unit_id(&app, &token, &prop, "F1").await;
    let ten = tenant(&app, &token, &prop, "Foreign Test", "f@example.com", "+15550115").await;
    let lease_id = lease(&app, &token, &prop, &ten, terms(&unit, &day(0), &day(10))).await.body["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, uri, body) in [
        (Method::GET, format!("/api/v1/properties/{prop}/units"), None),
        (Method::POST, format!("/api/v1/properties/{prop}/units"), Some(json!({"unit_number": "X"}))),
        (Method::GET, format!("/api/v1/properties/{prop}/units/{unit}"), None),
        (Method::PATCH, format!("/api/v1/properties/{prop}/units/{unit}"), Some(json!({"sqft": 1}))),
        (Method::DELETE, format!("/api/v1/properties/{prop}/units/{unit}"), None),
        (Method::GET, format!("/api/v1/properties/{prop}/tenants"), None),
        (
            Method::POST,
            format!("/api/v1/properties/{prop}/tenants"),
            Some(json!({"name": "X", "email": "x@example.com"})),
        ),
        (Method::GET, format!("/api/v1/properties/{prop}/tenants/{ten}"), None),
        (Method::DELETE, format!("/api/v1/properties/{prop}/tenants/{ten}"), None),
        (Method::GET, format!("/api/v1/properties/{prop}/tenants/{ten}/lease"), None),
        (
            Method::POST,
            format!("/api/v1/properties/{prop}/tenants/{ten}/lease"),
            Some(terms(&unit, &day(100), &day(200))),
        ),
        (Method::GET, format!("/api/v1/leases/{lease_id}"), None),
        (
            Method::POST,
            format!("/api/v1/leases/{lease_id}/move-out"),
            Some(json!({"move_out": format!("{}T00:00:00Z", day(0))})),
        ),
    ] {
        let response = app.call(method.clone(), &uri, Some(&stranger), body.as_ref(), &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {uri}: {:?}", response.body);
    }
    assert_eq!(app.get("/units?isActive=true", &stranger).await.body, json!([]));
    assert_eq!(app.get("/leases?isActive=true", &stranger).await.body, json!([]));
    // The owner still has everything
    assert_eq!(app.get(&format!("/api/v1/leases/{lease_id}"), &token).await.status, StatusCode::OK);
}
