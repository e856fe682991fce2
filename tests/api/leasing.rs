//! Units, tenants and leases: the seed 002 feeds, the rules that must hold under
//! concurrency, occupancy, and object-level authorization.

use doorstep_tests::{TestApp, app, claims, new_org};
use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Date, Duration};

fn day(offset_days: i64) -> String {
    let date: Date = time::OffsetDateTime::now_utc().date() + Duration::days(offset_days);
    shared::domain::calendar::format_date(date)
}

async fn property_at(app: &TestApp, token: &str, street: &str, city: &str, state: &str, zip: &str) -> String {
    let body = json!({"name": street, "type": "residential",
        "address": {"street": street, "city": city, "state": state, "postal_code": zip, "country": "US"}});
    let response = app.post("/api/v1/properties", token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn property(app: &TestApp, token: &str) -> String {
    property_at(app, token, "1 Test Way", "Springfield", "IL", "62701").await
}

async fn unit(app: &TestApp, token: &str, property_id: &str, body: Value) -> Value {
    let response = app.post(&format!("/api/v1/properties/{property_id}/units"), token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"].clone()
}

async fn unit_id(app: &TestApp, token: &str, property_id: &str, number: &str) -> String {
    unit(app, token, property_id, json!({"unit_number": number, "possession_start": "2024-01-01"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn tenant(app: &TestApp, token: &str, property_id: &str, name: &str, email: &str, phone: &str) -> String {
    let body = json!({"name": name, "email": email, "phone": phone});
    let response = app.post(&format!("/api/v1/properties/{property_id}/tenants"), token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn lease(
    app: &TestApp,
    token: &str,
    property_id: &str,
    tenant_id: &str,
    body: Value,
) -> doorstep_tests::TestResponse {
    app.post(&format!("/api/v1/properties/{property_id}/tenants/{tenant_id}/lease"), token, &body).await
}

fn terms(unit_id: &str, start: &str, end: &str) -> Value {
    json!({"unit_id": unit_id, "start_date": start, "end_date": end, "rent_amount": 2400})
}

/// A seed 002 unit: our id, then the seed's fields exactly as the seed shows them.
fn seed_unit(id: &str, rest: &str) -> String {
    format!(r#"{{"ID":"{id}",{rest}}}"#)
}

#[tokio::test]
async fn the_seed_002_examples_are_reproduced() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    // Given the seed's two units, in their two properties
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

    // Then it is a bare array of exactly the seed's objects
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    assert_eq!(feed.header("content-type"), Some("application/json"));
    assert_eq!(feed.body.as_array().map(Vec::len), Some(2), "{}", feed.text);
    assert!(feed.text.starts_with('[') && feed.text.ends_with(']'));
    let first = seed_unit(
        a101,
        r#""streetAddress":"123 Main Street","unitNumber":"A101","city":"Springfield","state":"IL","zip":"62701","sqft":850,"bedrooms":2,"ownerID":"5001","possessionStartDate":"2024-01-01T00:00:00Z","possessionEndDate":"2025-12-31T23:59:59Z""#,
    );
    let second = seed_unit(
        b202,
        r#""streetAddress":"456 Oak Avenue","unitNumber":"B202","city":"Springfield","state":"IL","zip":"62702","sqft":1200,"bedrooms":3,"ownerID":"5002","possessionStartDate":"2024-02-15T00:00:00Z","possessionEndDate":"2026-02-14T23:59:59Z""#,
    );
    assert!(feed.text.contains(&first), "{}\nlacks\n{first}", feed.text);
    assert!(feed.text.contains(&second), "{}\nlacks\n{second}", feed.text);
    let inactive = app.get("/units?isActive=false", &token).await;
    assert_eq!(inactive.body.as_array().unwrap().len(), 1);
    assert_eq!(inactive.body[0]["unitNumber"], "Z999");
    assert_eq!(inactive.body[0]["sqft"], Value::Null);

    // Given the seed's two leases, current today, with the seed's tenants
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

    // Then it holds exactly the seed's objects
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

#[tokio::test]
async fn unit_numbers_are_unique_within_a_property_and_counted() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let other = property(&app, &token).await;
    let first = unit_id(&app, &token, &prop, "A101").await;

    // Same number, any case, same property: 409
    let duplicate =
        app.post(&format!("/api/v1/properties/{prop}/units"), &token, &json!({"unit_number": "a101"})).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{:?}", duplicate.body);
    assert_eq!(duplicate.error_code(), "CONFLICT");
    // Same number in another property is fine
    unit_id(&app, &token, &other, "A101").await;
    let second = unit_id(&app, &token, &prop, "A102").await;
    // Renumbering onto a taken number: 409; onto a free one frees the old number
    let uri = format!("/api/v1/properties/{prop}/units/{second}");
    let taken = app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"unit_number": "A101"})), &[]).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let moved = app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"unit_number": "B1"})), &[]).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["data"]["unit_number"], "B1");
    unit_id(&app, &token, &prop, "A102").await;

    let property = app.get(&format!("/api/v1/properties/{prop}"), &token).await;
    assert_eq!(property.body["data"]["unit_count"], 3);
    // Deleting a unit releases its number and its count
    let deleted =
        app.call(Method::DELETE, &format!("/api/v1/properties/{prop}/units/{first}"), Some(&token), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    unit_id(&app, &token, &prop, "A101").await;
    let property = app.get(&format!("/api/v1/properties/{prop}"), &token).await;
    assert_eq!(property.body["data"]["unit_count"], 3);
    // A property with units cannot be deleted
    let refused = app.call(Method::DELETE, &format!("/api/v1/properties/{prop}"), Some(&token), None, &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_unit_round_trips_its_fields_and_status() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let created = unit(
        &app,
        &token,
        &prop,
        json!({
        "unit_number": "101", "building": "North", "floor": 1, "floorplan": "A1", "type": "1 Bed + Den",
        "dwelling_type": "Apartment", "sqft": 640, "bedrooms": 1, "bathrooms": 1.5, "dens": 1, "exposure": "SW",
        "view": "Courtyard", "has_garage": true, "pets": 2, "parking_stalls": 1, "storage_boxes": 1,
        "base_rent": 1500, "price_amortized": 1450.5, "owner_id": "5001",
        "possession_start": "2024-01-01", "possession_end": "2030-12-31"}),
    )
    .await;
    assert_eq!(created["type"], "1 Bed + Den");
    assert_eq!(created["bathrooms"], 1.5);
    assert_eq!(created["status"], "Available");
    assert_eq!(created["status_id"], 1);
    assert_eq!(created["is_available"], true);
    assert_eq!(created["occupied"], false);
    let id = created["id"].as_str().unwrap();
    let uri = format!("/api/v1/properties/{prop}/units/{id}");
    let read = app.get(&uri, &token).await;
    assert_eq!(read.body["data"], created);
    assert!(read.text.contains(r#""base_rent":1500.00"#), "{}", read.text);
    assert!(read.text.contains(r#""price_amortized":1450.50"#), "{}", read.text);

    let status = app
        .call(
            Method::PUT,
            &format!("{uri}/status"),
            Some(&token),
            Some(&json!({"status_id": 3, "when_available": "December"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(status.status, StatusCode::OK, "{:?}", status.body);
    assert_eq!(status.body["data"]["status"], "Notice");
    let read = app.get(&format!("{uri}/status"), &token).await;
    assert_eq!(
        read.body["data"],
        json!({"status": "Notice", "status_id": 3, "is_available": true, "when_available": "December"})
    );
    let stale = app
        .call(
            Method::PUT,
            &format!("{uri}/status"),
            Some(&token),
            Some(&json!({"status": "Rented"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let bad =
        app.call(Method::PUT, &format!("{uri}/status"), Some(&token), Some(&json!({"status": "Vacant"})), &[]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown_id =
        app.call(Method::PUT, &format!("{uri}/status"), Some(&token), Some(&json!({"status_id": 9})), &[]).await;
    assert_eq!(unknown_id.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mass =
        app.post(&format!("/api/v1/properties/{prop}/units"), &token, &json!({"unit_number": "X", "version": 9})).await;
    assert_eq!(mass.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn overlapping_leases_raced_from_20_requests_book_exactly_one() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let unit = unit_id(&app, &token, &prop, "R1").await;
    let mut tenants = Vec::new();
    for i in 0..20 {
        tenants.push(
            tenant(&app, &token, &prop, &format!("Racer {i}"), &format!("racer{i}@example.com"), "+15550100").await,
        );
    }
    // Twenty different periods that all share at least one day
    let attempts = tenants.iter().enumerate().map(|(i, t)| {
        let body = terms(&unit, &day(i as i64), &day(30 + i as i64));
        let (app, token, prop) = (&app, &token, &prop);
        async move { lease(app, token, prop, t, body).await }
    });
    let results = join_all(attempts).await;
    let created: Vec<_> = results.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    let conflicts = results.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
    assert_eq!(created.len(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(conflicts, 19);
    let stored = app.get(&format!("/api/v1/leases?unit_id={unit}"), &token).await;
    assert_eq!(stored.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(stored.body["data"][0]["id"], created[0].body["data"]["id"]);
}

#[tokio::test]
async fn lease_rules_possession_adjacency_renewal_and_deletion() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let unit = unit_id(&app, &token, &prop, "L1").await;
    let ten = tenant(&app, &token, &prop, "Lee Renter", "lee@example.com", "+15550111").await;

    // Before possession start: 422
    let early = lease(&app, &token, &prop, &ten, terms(&unit, "2023-12-31", "2024-06-30")).await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", early.body);
    assert_eq!(early.body["error"]["details"][0]["field"], "start_date");
    // A past lease, then one starting the very next day: no overlap
    let past = lease(&app, &token, &prop, &ten, terms(&unit, "2024-01-01", &day(-11))).await;
    assert_eq!(past.status, StatusCode::CREATED, "{:?}", past.body);
    assert_eq!(past.body["data"]["status"], "Past");
    let current = lease(&app, &token, &prop, &ten, terms(&unit, &day(-10), &day(20))).await;
    assert_eq!(current.status, StatusCode::CREATED, "{:?}", current.body);
    assert_eq!(current.body["data"]["status"], "Current");
    let overlapping = lease(&app, &token, &prop, &ten, terms(&unit, &day(20), &day(60))).await;
    assert_eq!(overlapping.status, StatusCode::CONFLICT);

    // Renewal: a future lease from the next day, same tenants and unit
    let current_id = current.body["data"]["id"].as_str().unwrap();
    let renewal = app
        .post(
            &format!("/api/v1/leases/{current_id}/renew"),
            &token,
            &json!({"end_date": day(385), "rent_amount": 2500}),
        )
        .await;
    assert_eq!(renewal.status, StatusCode::CREATED, "{:?}", renewal.body);
    assert_eq!(renewal.body["data"]["start_date"], day(21));
    assert_eq!(renewal.body["data"]["status"], "Future");
    assert_eq!(renewal.body["data"]["renewal_of"], current_id);
    assert!(renewal.text.contains(r#""rent_amount":2500.00"#));

    // A unit with a current lease, and a tenant on a lease, cannot be deleted
    let unit_uri = format!("/api/v1/properties/{prop}/units/{unit}");
    assert_eq!(app.call(Method::DELETE, &unit_uri, Some(&token), None, &[]).await.status, StatusCode::CONFLICT);
    let tenant_uri = format!("/api/v1/properties/{prop}/tenants/{ten}");
    assert_eq!(app.call(Method::DELETE, &tenant_uri, Some(&token), None, &[]).await.status, StatusCode::CONFLICT);
    // The tenant's lease is the current one
    let own = app.get(&format!("/api/v1/properties/{prop}/tenants/{ten}/lease"), &token).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["data"]["id"], current_id);
    // Unknown co-tenants are refused
    let mut with_ghost = terms(&unit, &day(500), &day(600));
    with_ghost["co_tenant_ids"] = json!([shared::domain::ids::new("ten")]);
    let ghost = lease(&app, &token, &prop, &ten, with_ghost).await;
    assert_eq!(ghost.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", ghost.body);
}

/// (unit_count, occupied_unit_count) on `/api/v1` and (occupancy_rate, units) on seed 000's route.
async fn occupancy(app: &TestApp, token: &str, prop: &str) -> (Value, Value, Value, Value) {
    let v1 = app.get(&format!("/api/v1/properties/{prop}"), token).await.body["data"].clone();
    let seed = app.get(&format!("/api/ai/properties/{prop}"), token).await.body["property"].clone();
    (v1["unit_count"].clone(), v1["occupied_unit_count"].clone(), seed["occupancy_rate"].clone(), seed["units"].clone())
}

#[tokio::test]
async fn occupancy_follows_lease_start_and_move_out() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let one = unit_id(&app, &token, &prop, "O1").await;
    let two = unit_id(&app, &token, &prop, "O2").await;
    let ten = tenant(&app, &token, &prop, "Olive Occupant", "olive@example.com", "+15550112").await;
    assert_eq!(occupancy(&app, &token, &prop).await, (json!(2), json!(0), json!(0), json!(2)));

    // A lease that started: one of two units occupied
    let current = lease(&app, &token, &prop, &ten, terms(&one, &day(-30), &day(300))).await;
    assert_eq!(current.status, StatusCode::CREATED);
    assert_eq!(occupancy(&app, &token, &prop).await, (json!(2), json!(1), json!(50), json!(2)));
    // A lease that has not started yet does not count today
    let future = lease(&app, &token, &prop, &ten, terms(&two, &day(5), &day(300))).await;
    assert_eq!(future.status, StatusCode::CREATED);
    assert_eq!(occupancy(&app, &token, &prop).await.1, json!(1));
    // A past lease does not count either
    let past = lease(&app, &token, &prop, &ten, terms(&two, "2024-03-01", "2024-08-31")).await;
    assert_eq!(past.status, StatusCode::CREATED);
    assert_eq!(occupancy(&app, &token, &prop).await.2, json!(50));

    // Move-out yesterday: the unit is free today
    let id = current.body["data"]["id"].as_str().unwrap();
    let yesterday = format!("{}T18:00:00Z", day(-1));
    let moved = app.post(&format!("/api/v1/leases/{id}/move-out"), &token, &json!({"move_out": yesterday})).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["data"]["status"], "Past");
    assert_eq!(occupancy(&app, &token, &prop).await, (json!(2), json!(0), json!(0), json!(2)));
    let again = app.post(&format!("/api/v1/leases/{id}/move-out"), &token, &json!({"move_out": yesterday})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // The freed unit can be leased again from today, and the feed shows the move-out
    let next = lease(&app, &token, &prop, &ten, terms(&one, &day(0), &day(100))).await;
    assert_eq!(next.status, StatusCode::CREATED, "{:?}", next.body);
    assert_eq!(occupancy(&app, &token, &prop).await.2, json!(50));
    let ended = app.get("/leases?isActive=false", &token).await;
    let moved_out = ended.body.as_array().unwrap().iter().find(|l| l["ID"] == id).cloned().unwrap();
    assert_eq!(moved_out["moveOut"], json!(format!("{}T18:00:00Z", day(-1))));
}

#[tokio::test]
async fn two_hundred_fifty_units_page_without_gaps_or_repeats() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    // Created ten at a time: the property's counter must still end at 250
    let mut created = std::collections::BTreeSet::new();
    for batch in 0..25 {
        let requests = (0..10).map(|i| {
            let body = json!({"unit_number": format!("U{:03}", batch * 10 + i)});
            let (app, token, prop) = (&app, &token, &prop);
            async move { app.post(&format!("/api/v1/properties/{prop}/units"), token, &body).await }
        });
        for response in join_all(requests).await {
            assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
            created.insert(response.body["data"]["id"].as_str().unwrap().to_owned());
        }
    }
    let counted = app.get(&format!("/api/v1/properties/{prop}"), &token).await;
    assert_eq!(counted.body["data"]["unit_count"], 250);

    let mut seen = Vec::new();
    let mut uri = format!("/api/v1/properties/{prop}/units?page_size=100");
    let mut pages = 0;
    loop {
        let page = app.get(&uri, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        pages += 1;
        seen.extend(page.body["data"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page.body["meta"]["pagination"]["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/v1/properties/{prop}/units?page_size=100&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().cloned().collect::<std::collections::BTreeSet<_>>(), created);
    let feed = app.get("/units?isActive=true", &token).await;
    assert_eq!(feed.body.as_array().unwrap().len(), 250);
    // A cursor of another property's listing is refused
    let other = property(&app, &token).await;
    let first = app.get(&format!("/api/v1/properties/{prop}/units?page_size=10"), &token).await;
    let cursor = first.body["meta"]["pagination"]["next_cursor"].as_str().unwrap();
    let foreign = app.get(&format!("/api/v1/properties/{other}/units?cursor={cursor}"), &token).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
}

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

#[tokio::test]
async fn renters_have_exactly_the_seed_000_shape() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let unit = unit_id(&app, &token, &prop, "R1").await;
    let ten = tenant(&app, &token, &prop, "John Doe", "john.doe@example.com", "+15550116").await;
    let created = lease(&app, &token, &prop, &ten, terms(&unit, &day(-10), &day(355))).await;
    assert_eq!(created.status, StatusCode::CREATED);

    let mut oauth = claims(&app.services.config, &org, &["OrganizationOwner"]);
    oauth.scope = Some("read:renters".into());
    oauth.client_id = Some("app_test".into());
    let response = app.get("/api/ai/renters", &app.sign(&oauth)).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(
        response.body,
        json!({"renters": [{"id": ten, "name": "John Doe", "property_id": prop, "lease_start": day(-10),
            "lease_end": day(355), "rent_amount": 2400, "payment_status": "current"}]})
    );
    let mut wrong = claims(&app.services.config, &org, &["OrganizationOwner"]);
    wrong.scope = Some("read:properties".into());
    assert_eq!(app.get("/api/ai/renters", &app.sign(&wrong)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn creates_with_an_idempotency_key_replay_instead_of_repeating() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let units_uri = format!("/api/v1/properties/{prop}/units");
    let body = json!({"unit_number": "I1", "possession_start": "2024-01-01"});
    let key = [("idempotency-key", "unit-key-1")];

    // The same key and body: the first response again, one unit, counted once
    let first = app.call(Method::POST, &units_uri, Some(&token), Some(&body), &key).await;
    let again = app.call(Method::POST, &units_uri, Some(&token), Some(&body), &key).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["data"]["id"], first.body["data"]["id"]);
    assert_eq!(again.header("location"), first.header("location"));
    let counted = app.get(&format!("/api/v1/properties/{prop}"), &token).await;
    assert_eq!(counted.body["data"]["unit_count"], 1);
    // The same key with another body: 422
    let other = app.call(Method::POST, &units_uri, Some(&token), Some(&json!({"unit_number": "I2"})), &key).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A lease retried with its key is booked once, not refused as an overlap
    let unit = first.body["data"]["id"].as_str().unwrap();
    let ten = tenant(&app, &token, &prop, "Ida Key", "ida@example.com", "+15550117").await;
    let lease_uri = format!("/api/v1/properties/{prop}/tenants/{ten}/lease");
    let lease_key = [("idempotency-key", "lease-key-1")];
    let terms = terms(unit, &day(0), &day(30));
    let booked = app.call(Method::POST, &lease_uri, Some(&token), Some(&terms), &lease_key).await;
    let retried = app.call(Method::POST, &lease_uri, Some(&token), Some(&terms), &lease_key).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    assert_eq!(retried.status, StatusCode::CREATED, "{:?}", retried.body);
    assert_eq!(retried.body["data"]["id"], booked.body["data"]["id"]);
    let leases = app.get(&format!("/api/v1/leases?unit_id={unit}"), &token).await;
    assert_eq!(leases.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_lease_list_filters_by_property_unit_tenant_status_and_change_time() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let other = property(&app, &token).await;
    let unit = unit_id(&app, &token, &prop, "Q1").await;
    let elsewhere = unit_id(&app, &token, &other, "Q1").await;
    let ten = tenant(&app, &token, &prop, "Quinn Query", "quinn@example.com", "+15550118").await;
    let far = tenant(&app, &token, &other, "Far Away", "far@example.com", "+15550119").await;
    let past =
        lease(&app, &token, &prop, &ten, terms(&unit, "2024-01-01", "2024-12-31")).await.body["data"]["id"].clone();
    let current = lease(&app, &token, &prop, &ten, terms(&unit, &day(-1), &day(30))).await.body["data"]["id"].clone();
    let before_last = time_format_now();
    let future =
        lease(&app, &token, &other, &far, terms(&elsewhere, &day(10), &day(30))).await.body["data"]["id"].clone();

    let ids = |response: &doorstep_tests::TestResponse| -> Vec<Value> {
        response.body["data"].as_array().unwrap().iter().map(|l| l["id"].clone()).collect()
    };
    assert_eq!(ids(&app.get("/api/v1/leases?status=Past", &token).await), vec![past.clone()]);
    assert_eq!(ids(&app.get("/api/v1/leases?status=Current", &token).await), vec![current.clone()]);
    assert_eq!(ids(&app.get("/api/v1/leases?status=Future", &token).await), vec![future.clone()]);
    assert_eq!(ids(&app.get(&format!("/api/v1/leases?property_id={other}"), &token).await), vec![future.clone()]);
    assert_eq!(ids(&app.get(&format!("/api/v1/leases?tenant_id={ten}&page_size=1"), &token).await), vec![past.clone()]);
    assert_eq!(
        ids(&app.get(&format!("/api/v1/leases?updated_since={before_last}"), &token).await),
        vec![future.clone()]
    );
    let bad = app.get("/api/v1/leases?status=Later", &token).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad_time = app.get("/api/v1/leases?updated_since=yesterday", &token).await;
    assert_eq!(bad_time.status, StatusCode::BAD_REQUEST);
}

fn time_format_now() -> String {
    shared::time_format::format(shared::time_format::now())
}
