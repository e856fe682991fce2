//! The partner unit and lease feed (`/units`, `/leases`): its documented examples,
//! and bad parameters and anonymous callers refused.

use super::{day, feed_unit, lease, property_at, tenant, terms, unit};
use aws_sdk_dynamodb::types::AttributeValue;
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

/// Every page of `first`, following `Link: <...>; rel="next"`: each page's rows.
async fn pages(app: &doorstep_tests::TestApp, token: &str, first: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut uri = Some(first.to_owned());
    while let Some(next) = uri {
        let page = app.get(&next, token).await;
        assert_eq!(page.status, StatusCode::OK, "{next}: {}", page.text);
        pages.push(page.body.as_array().expect("a bare array").clone());
        uri = page.header("link").map(|link| {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link.trim_start_matches('<').split('>').next().unwrap().to_owned()
        });
        assert!(pages.len() <= 10, "the feed does not end");
    }
    pages
}

#[tokio::test]
async fn a_feed_over_more_rows_than_one_page_pages_through_all_of_them_exactly_once() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property_at(&app, &token, "9 Paging Row", "Springfield", "IL", "62701").await;
    let mut active = Vec::new();
    for i in 0..20 {
        let created = unit(&app, &token, &prop, json!({"unit_number": format!("P{i:02}"), "active": i % 5 != 0})).await;
        if i % 5 != 0 {
            active.push(created["id"].as_str().unwrap().to_owned());
        }
    }

    let unit_pages = pages(&app, &token, "/units?isActive=true&page_size=7").await;
    assert_eq!(unit_pages.iter().map(Vec::len).collect::<Vec<_>>(), [7, 7, 2]);
    let mut seen: Vec<String> = unit_pages.iter().flatten().map(|u| u["ID"].as_str().unwrap().to_owned()).collect();
    seen.sort();
    active.sort();
    assert_eq!(seen, active, "every active unit exactly once");
    // Without page_size, a portfolio this small is one page without a Link.
    let whole = app.get("/units?isActive=false", &token).await;
    assert_eq!((whole.body.as_array().unwrap().len(), whole.header("link")), (4, None));

    let ten = tenant(&app, &token, &prop, "Paige Turner", "paige@example.com", "+15550133").await;
    let mut leases = Vec::new();
    for unit_id in &active[..5] {
        let created = lease(&app, &token, &prop, &ten, terms(unit_id, &day(-1), &day(30))).await;
        leases.push(created.body["data"]["id"].as_str().unwrap().to_owned());
    }
    let lease_pages = pages(&app, &token, "/leases?isActive=true&status=Current&page_size=2").await;
    assert_eq!(lease_pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let mut seen: Vec<String> = lease_pages.iter().flatten().map(|l| l["ID"].as_str().unwrap().to_owned()).collect();
    seen.sort();
    leases.sort();
    assert_eq!(seen, leases);

    // A cursor is bound to its feed and filters.
    let first = app.get("/units?isActive=true&page_size=7", &token).await;
    let link = first.header("link").unwrap().to_owned();
    let cursor = link.split("cursor=").nth(1).unwrap().split('>').next().unwrap();
    let foreign = app.get(&format!("/units?isActive=false&cursor={cursor}"), &token).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/units?isActive=true&page_size=5001", &token).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_store_error_on_a_later_feed_page_answers_in_the_envelope_without_a_panic() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let prop = property_at(&app, &token, "13 Broken Row", "Springfield", "IL", "62701").await;
    for i in 0..3 {
        unit(&app, &token, &prop, json!({"unit_number": format!("E{i}")})).await;
    }
    // A unit item that cannot be read back, sorting after the others.
    let store = &app.services.store;
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("PK", AttributeValue::S(format!("ORG#{org}")))
        .item("SK", AttributeValue::S(format!("UNIT#{prop}#unit_ZZZZZZZZZZZZZZZZZZZZZZZZZZ")))
        .item("active", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();

    let first = app.get("/units?isActive=true&page_size=2", &token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body.as_array().unwrap().len(), 2);
    let link = first.header("link").unwrap();
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let failed = app.get(next, &token).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.text);
    assert_eq!(failed.error_code(), "INTERNAL_ERROR");
    assert_eq!(failed.body["success"], false);
}
