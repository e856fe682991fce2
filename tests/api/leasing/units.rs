//! Units: numbers unique per property, field and status round trips, paging, idempotent creates.

use super::{day, property, tenant, terms, unit, unit_id};
use doorstep_tests::{app, new_org};
use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::json;

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
async fn a_unit_carries_when_available_and_its_assigned_lead_through_create_put_and_patch() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let lead = json!({"id": "lead_77", "first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"});
    let created = unit(
        &app,
        &token,
        &prop,
        json!({"unit_number": "201", "when_available": "Immediate", "pets_allowed": 1, "assigned_lead": lead}),
    )
    .await;
    assert_eq!(created["when_available"], "Immediate");
    assert_eq!(created["pets"], 1, "pets_allowed is the RentSync guide's name for pets");
    assert_eq!(created["assigned_lead"], lead);
    let uri = format!("/api/v1/properties/{prop}/units/{}", created["id"].as_str().unwrap());

    let other = json!({"id": "lead_78", "first_name": "Jane", "last_name": "Roe", "email": null});
    let patched = app
        .call(
            Method::PATCH,
            &uri,
            Some(&token),
            Some(&json!({"assigned_lead": other, "when_available": "December"})),
            &[],
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["data"]["assigned_lead"], other);
    assert_eq!(patched.body["data"]["when_available"], "December");
    assert_eq!(patched.body["data"]["pets"], 1, "a patch keeps what it does not name");

    let unassigned = app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"assigned_lead": null})), &[]).await;
    assert_eq!(unassigned.body["data"]["assigned_lead"], json!(null));
    let replaced = app.call(Method::PUT, &uri, Some(&token), Some(&json!({"unit_number": "201"})), &[]).await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    assert_eq!(replaced.body["data"]["when_available"], json!(null), "PUT replaces every field");
}

#[tokio::test]
async fn bad_rent_roll_fields_are_refused_with_the_field_named() {
    let app = app().await;
    let token = app.token(&new_org(), &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let uri = format!("/api/v1/properties/{prop}/units");
    for (body, field) in [
        (json!({"unit_number": "1", "floor": 301}), "floor"),
        (json!({"unit_number": "1", "building": ""}), "building"),
        (json!({"unit_number": "1", "floorplan": "x".repeat(51)}), "floorplan"),
        (json!({"unit_number": "1", "when_available": "y".repeat(51)}), "when_available"),
        (json!({"unit_number": "1", "price_amortized": -5}), "price_amortized"),
        (json!({"unit_number": "1", "exposure": "z".repeat(21)}), "exposure"),
        (json!({"unit_number": "1", "pets_allowed": 101}), "pets"),
        (json!({"unit_number": "1", "parking_stalls": 101}), "parking_stalls"),
        (json!({"unit_number": "1", "storage_boxes": 101}), "storage_boxes"),
        (
            json!({"unit_number": "1", "assigned_lead": {"id": "l1", "first_name": "", "last_name": "Doe"}}),
            "assigned_lead.first_name",
        ),
        (
            json!({"unit_number": "1", "assigned_lead": {"id": "l1", "first_name": "J", "last_name": "D", "email": "nope"}}),
            "assigned_lead.email",
        ),
    ] {
        let refused = app.post(&uri, &token, &body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", refused.body);
        assert_eq!(refused.error_code(), "VALIDATION_ERROR");
        let fields: Vec<_> =
            refused.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].clone()).collect();
        assert_eq!(fields, [json!(field)], "{body}");
    }
    // A type mismatch or an unknown field of the lead is a 422 too, never a 5xx.
    for body in [
        json!({"unit_number": "1", "has_garage": "yes"}),
        json!({"unit_number": "1", "assigned_lead": {"id": "l1", "first_name": "J", "last_name": "D", "phone": "1"}}),
    ] {
        let refused = app.post(&uri, &token, &body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", refused.body);
    }
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
