//! The partner unit and lease feed (`/units`, `/leases`): its documented examples,
//! and bad parameters and anonymous callers refused.

use super::{day, feed_unit, lease, property_at, tenant, terms, unit};
use doorstep_tests::{app, new_org};
use http::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn the_documented_feed_examples_are_reproduced() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    // Given the documentation's two units, in their two properties
    let main = property_at(&app, &token, "123 Main Street", "Springfield", "IL", "62701").await;
    let oak = property_at(&app, &token, "456 Oak Avenue", "Springfield", "IL", "62702").await;
    let a101 = unit(
        &app,
        &token,
        &main,
        json!({"unit_number": "A101", "sqft": 850, "bedrooms": 2, "owner_id": "5001",
        "possession_start": "2024-01-01", "possession_end": "2025-12-31"}),
    )
    .await;
    let b202 = unit(
        &app,
        &token,
        &oak,
        json!({"unit_number": "B202", "sqft": 1200, "bedrooms": 3, "owner_id": "5002",
        "possession_start": "2024-02-15", "possession_end": "2026-02-14"}),
    )
    .await;
    let (a101, b202) = (a101["id"].as_str().unwrap(), b202["id"].as_str().unwrap());
    // An inactive unit stays out of the active feed
    unit(&app, &token, &main, json!({"unit_number": "Z999", "active": false})).await;

    // When the feed is read
    let feed = app.get("/units?isActive=true", &token).await;

    // Then it is a bare array of exactly the documented objects
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    assert_eq!(feed.header("content-type"), Some("application/json"));
    assert_eq!(feed.body.as_array().map(Vec::len), Some(2), "{}", feed.text);
    assert!(feed.text.starts_with('[') && feed.text.ends_with(']'));
    let first = feed_unit(
        a101,
        r#""streetAddress":"123 Main Street","unitNumber":"A101","city":"Springfield","state":"IL","zip":"62701","sqft":850,"bedrooms":2,"ownerID":"5001","possessionStartDate":"2024-01-01T00:00:00Z","possessionEndDate":"2025-12-31T23:59:59Z""#,
    );
    let second = feed_unit(
        b202,
        r#""streetAddress":"456 Oak Avenue","unitNumber":"B202","city":"Springfield","state":"IL","zip":"62702","sqft":1200,"bedrooms":3,"ownerID":"5002","possessionStartDate":"2024-02-15T00:00:00Z","possessionEndDate":"2026-02-14T23:59:59Z""#,
    );
    assert!(feed.text.contains(&first), "{}\nlacks\n{first}", feed.text);
    assert!(feed.text.contains(&second), "{}\nlacks\n{second}", feed.text);
    let inactive = app.get("/units?isActive=false", &token).await;
    assert_eq!(inactive.body.as_array().unwrap().len(), 1);
    assert_eq!(inactive.body[0]["unitNumber"], "Z999");
    assert_eq!(inactive.body[0]["sqft"], Value::Null);

    // Given the documentation's two leases, current today, with its tenants
    let john = tenant(&app, &token, &main, "John Smith", "john.smith@example.com", "+1-555-0123").await;
    let jane = tenant(&app, &token, &oak, "Jane Doe", "jane.doe@example.com", "+1-555-0124").await;
    let bob = tenant(&app, &token, &oak, "Bob Johnson", "bob.johnson@example.com", "+1-555-0125").await;
    let end_one = day(40);
    let end_two = day(80);
    let mut first_terms = terms(a101, "2024-01-01", &end_one);
    first_terms["move_in"] = json!("2024-01-01T10:00:00Z");
    let first_lease = lease(&app, &token, &main, &john, first_terms).await;
    assert_eq!(first_lease.status, StatusCode::CREATED, "{:?}", first_lease.body);
    let mut second_terms = terms(b202, "2024-02-15", &end_two);
    second_terms["move_in"] = json!("2024-02-15T09:00:00-05:00");
    second_terms["co_tenant_ids"] = json!([bob]);
    let second_lease = lease(&app, &token, &oak, &jane, second_terms).await;
    assert_eq!(second_lease.status, StatusCode::CREATED, "{:?}", second_lease.body);
    // and a future lease that the Current feed leaves out
    let future = lease(&app, &token, &main, &john, terms(a101, &day(41), &day(400))).await;
    assert_eq!(future.status, StatusCode::CREATED, "{:?}", future.body);

    // When the lease feed is read
    let leases = app.get("/leases?isActive=true&status=Current", &token).await;

    // Then it holds exactly the documented objects
    assert_eq!(leases.status, StatusCode::OK, "{}", leases.text);
    assert_eq!(leases.body.as_array().map(Vec::len), Some(2), "{}", leases.text);
    let (first_id, second_id) =
        (first_lease.body["data"]["id"].as_str().unwrap(), second_lease.body["data"]["id"].as_str().unwrap());
    let expected_first = format!(
        r#"{{"ID":"{first_id}","unitID":"{a101}","leaseStart":"2024-01-01T00:00:00Z","leaseEnd":"{end_one}T23:59:59Z","moveIn":"2024-01-01T10:00:00Z","moveOut":null,"primaryTenantID":"{john}","tenants":[{{"ID":"{john}","name":"John Smith","email":"john.smith@example.com","phoneNumber":"+15550123"}}]}}"#
    );
    let expected_second = format!(
        r#"{{"ID":"{second_id}","unitID":"{b202}","leaseStart":"2024-02-15T00:00:00Z","leaseEnd":"{end_two}T23:59:59Z","moveIn":"2024-02-15T14:00:00Z","moveOut":null,"primaryTenantID":"{jane}","tenants":[{{"ID":"{jane}","name":"Jane Doe","email":"jane.doe@example.com","phoneNumber":"+15550124"}},{{"ID":"{bob}","name":"Bob Johnson","email":"bob.johnson@example.com","phoneNumber":"+15550125"}}]}}"#
    );
    assert!(leases.text.contains(&expected_first), "{}\nlacks\n{expected_first}", leases.text);
    assert!(leases.text.contains(&expected_second), "{}\nlacks\n{expected_second}", leases.text);
    let all_active = app.get("/leases?isActive=true", &token).await;
    assert_eq!(all_active.body.as_array().unwrap().len(), 3);
    let future_only = app.get("/leases?isActive=true&status=Future", &token).await;
    assert_eq!(future_only.body.as_array().unwrap().len(), 1);
    assert_eq!(future_only.body[0]["ID"], future.body["data"]["id"]);
    let past = app.get("/leases?isActive=false", &token).await;
    assert_eq!(past.body, json!([]));
}

#[tokio::test]
async fn the_feeds_reject_bad_parameters_and_anonymous_callers() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    for uri in [
        "/units",
        "/units?isActive=yes",
        "/units?isActive=TRUE",
        "/units?isActive=true&page=2",
        "/leases",
        "/leases?isActive=1",
        "/leases?isActive=true&status=current",
        "/leases?isActive=true&status=Ongoing",
        "/leases?isActive=true&sort=ID",
    ] {
        let response = app.get(uri, &token).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{uri}: {}", response.text);
        assert_eq!(response.error_code(), "BAD_REQUEST", "{uri}");
        assert_eq!(response.body["success"], false);
    }
    let anonymous = app.call(Method::GET, "/units?isActive=true", None, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let empty = app.get("/units?isActive=true", &token).await;
    assert_eq!((empty.status, empty.body), (StatusCode::OK, json!([])));
    // An API-key-less user without unit:read (a security guard has it; a tenant role too) —
    // a token with no role at all is refused.
    let nobody = app.token(&new_org(), &[]);
    assert_eq!(app.get("/units?isActive=true", &nobody).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/leases?isActive=true", &nobody).await.status, StatusCode::FORBIDDEN);
}
