//! Leases: overlaps raced from 20 requests, the booking rules, occupancy and the lease list.

use super::{day, lease, property, tenant, terms, unit_id};
use doorstep_tests::{TestApp, app, new_org};
use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::domain::calendar;
use shared::domain::ids::{PropertyId, UnitId};
use shared::domain::unit::MAX_BOOKINGS;

/// (unit_count, occupied_unit_count) on `/api/v1` and (occupancy_rate, units) on the integration API's route.
async fn occupancy(app: &TestApp, token: &str, prop: &str) -> (Value, Value, Value, Value) {
    let v1 = app.get(&format!("/api/v1/properties/{prop}"), token).await.body["data"].clone();
    let integration = app.get(&format!("/api/ai/properties/{prop}"), token).await.body["property"].clone();
    (
        v1["unit_count"].clone(),
        v1["occupied_unit_count"].clone(),
        integration["occupancy_rate"].clone(),
        integration["units"].clone(),
    )
}

fn time_format_now() -> String {
    shared::time_format::format(shared::time_format::now())
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

#[tokio::test]
async fn unbounded_bookings_and_occupancy_are_settled_on_write_and_capped() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let prop = property(&app, &token).await;
    let unit = unit_id(&app, &token, &prop, "B1").await;
    let ten = tenant(&app, &token, &prop, "Bea Bounded", "bea@example.com", "+15550122").await;

    // Given a lease that ended last month, then a current one...
    assert_eq!(lease(&app, &token, &prop, &ten, terms(&unit, &day(-60), &day(-30))).await.status, StatusCode::CREATED);
    let current = lease(&app, &token, &prop, &ten, terms(&unit, &day(-10), &day(30))).await;
    assert_eq!(current.status, StatusCode::CREATED, "{:?}", current.body);

    // ...the unit keeps only the current booking, and the property only today's and later changes.
    let (org_key, prop_key) = (org.as_str(), PropertyId::parse(&prop).unwrap());
    let stored =
        app.services.store.units().get(org_key, &prop_key, &UnitId::parse(&unit).unwrap()).await.unwrap().unwrap();
    assert_eq!(
        stored.bookings.iter().map(|b| b.lease_id.clone()).collect::<Vec<_>>(),
        [current.body["data"]["id"].as_str().unwrap()]
    );
    assert_eq!(stored.settled_until.map(calendar::format_date), Some(day(-30)));
    let property_item = app.services.store.properties().get(org_key, &prop_key).await.unwrap().unwrap();
    assert!(property_item.occupancy.keys().all(|d| *d >= day(0)), "{:?}", property_item.occupancy);
    assert_eq!(occupancy(&app, &token, &prop).await.1, 1);

    // A lease in the settled history cannot be checked for overlaps, so it is refused.
    let backfill = lease(&app, &token, &prop, &ten, terms(&unit, &day(-45), &day(-40))).await;
    assert_eq!(backfill.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", backfill.body);
    assert_eq!(backfill.body["error"]["details"][0]["field"], "start_date");

    // At most MAX_BOOKINGS current and future leases on a unit.
    for i in 1..MAX_BOOKINGS {
        let offset = 30 + i64::try_from(i).unwrap();
        let booked = lease(&app, &token, &prop, &ten, terms(&unit, &day(offset), &day(offset))).await;
        assert_eq!(booked.status, StatusCode::CREATED, "{i}: {:?}", booked.body);
    }
    let one_more = lease(&app, &token, &prop, &ten, terms(&unit, &day(400), &day(400))).await;
    assert_eq!(one_more.status, StatusCode::CONFLICT, "{:?}", one_more.body);
    assert_eq!(one_more.error_code(), "CONFLICT");
}
