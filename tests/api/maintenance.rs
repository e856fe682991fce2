//! Maintenance requests: both APIs, who sees what, the status rules, the timeline, and
//! the events on the bus.

use std::collections::BTreeSet;

use doorstep_tests::bus_queue::BusQueue;
use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{TestApp, app, claims, new_org};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

pub(crate) const REQUESTS: &str = "/api/v1/operations/maintenance-requests";

fn day(offset_days: i64) -> String {
    shared::domain::calendar::format_date(time::OffsetDateTime::now_utc().date() + Duration::days(offset_days))
}

pub(crate) async fn created(app: &TestApp, token: &str, uri: &str, body: Value) -> Value {
    let response = app.post(uri, token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{uri}: {:?}", response.body);
    response.body["data"].clone()
}

pub(crate) fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// A property with two units, each rented by its own tenant; the tenants' tokens.
pub(crate) struct Building {
    pub(crate) property: String,
    pub(crate) units: [String; 2],
    pub(crate) tenants: [String; 2],
    pub(crate) tenant_tokens: [String; 2],
}

pub(crate) async fn building(app: &TestApp, org: &str, owner: &str) -> Building {
    let property = id(&app.create_property(owner, "Maple Court").await);
    let mut units = Vec::new();
    let mut tenants = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..2 {
        let units_uri = format!("/api/v1/properties/{property}/units");
        let unit = id(&created(
            app,
            owner,
            &units_uri,
            json!({"unit_number": format!("M{n}"), "possession_start": "2024-01-01"}),
        )
        .await);
        let tenant_body = json!({"name": format!("Tenant {n}"), "email": format!("t{n}@example.com")});
        let tenant = id(&created(app, owner, &format!("/api/v1/properties/{property}/tenants"), tenant_body).await);
        let lease = json!({"unit_id": unit, "start_date": day(-10), "end_date": day(300), "rent_amount": 1500});
        created(app, owner, &format!("/api/v1/properties/{property}/tenants/{tenant}/lease"), lease).await;
        let mut tenant_claims = claims(&app.services.config, org, &["Tenant"]);
        tenant_claims.tenant_profile_id = Some(tenant.clone());
        tokens.push(app.sign(&tenant_claims));
        units.push(unit);
        tenants.push(tenant);
    }
    Building {
        property,
        units: units.try_into().unwrap(),
        tenants: tenants.try_into().unwrap(),
        tenant_tokens: tokens.try_into().unwrap(),
    }
}

fn oauth_token(app: &TestApp, org: &str, scope: &str) -> String {
    let mut scoped = claims(&app.services.config, org, &["PropertyManager"]);
    scoped.scope = Some(scope.into());
    scoped.client_id = Some("app_maintenance".into());
    app.sign(&scoped)
}

pub(crate) fn leak(property: &str, unit: Option<&str>) -> Value {
    let mut body = json!({"property_id": property, "title": "Leak under the sink", "description": "Water on the floor",
        "priority": "high", "category": "plumbing", "permission_to_enter": true, "preferred_times": ["weekday mornings"]});
    if let Some(unit) = unit {
        body["unit_id"] = json!(unit);
    }
    body
}

#[tokio::test]
async fn the_integration_api_body_creates_a_request_both_apis_show() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let property = id(&app.create_property(&owner, "Seed Place").await);
    let token = oauth_token(&app, &org, "read:maintenance write:maintenance");

    // The integration API's documented body, exactly
    let body = json!({"property_id": property, "title": "Broken AC", "description": "AC unit not cooling",
        "priority": "high", "category": "hvac"});
    let response = app.post("/api/ai/maintenance", &token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    let made = &response.body["maintenance_request"];
    let request_id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["status"], "open");
    assert!(response.header("x-ratelimit-limit").is_some(), "rate-limit headers on the integration API");

    // The integration listing: exactly the documented keys
    let listed = app.get("/api/ai/maintenance", &token).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.header("x-ratelimit-remaining").is_some());
    let items = listed.body["maintenance_requests"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let keys: BTreeSet<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["id", "property_id", "title", "description", "priority", "category", "status", "created_at"])
    );
    assert_eq!(items[0]["title"], "Broken AC");
    assert_eq!(items[0]["category"], "hvac");

    // The same request on /api/v1
    let read = app.get(&format!("{REQUESTS}/{request_id}"), &owner).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["data"]["description"], "AC unit not cooling");
    assert_eq!(read.body["data"]["priority"], "high");
    let v1 = app.get(REQUESTS, &owner).await;
    assert_eq!(v1.body["data"][0]["id"], request_id.as_str());

    // A field the integration API does not document is refused; so is a foreign property
    let mut extra = body.clone();
    extra["unit_id"] = json!("unit_01JD3M00000000000000000001");
    assert_eq!(app.post("/api/ai/maintenance", &token, &extra).await.status.as_u16() / 100, 4);
    let mut foreign = body.clone();
    foreign["property_id"] = json!(shared::domain::ids::new("prop"));
    assert_eq!(app.post("/api/ai/maintenance", &token, &foreign).await.status, StatusCode::NOT_FOUND);
    let mut bad = body;
    bad["title"] = json!("   ");
    let refused = app.post("/api/ai/maintenance", &token, &bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{:?}", refused.body);
}

#[tokio::test]
async fn read_maintenance_alone_cannot_create() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let property = id(&app.create_property(&owner, "Scoped").await);
    let reader = oauth_token(&app, &org, "read:maintenance");
    let body = json!({"property_id": property, "title": "Broken AC", "description": "x", "priority": "low", "category": "hvac"});

    let denied = app.post("/api/ai/maintenance", &reader, &body).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.error_code(), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(app.post(REQUESTS, &reader, &leak(&property, None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/ai/maintenance", &reader).await.status, StatusCode::OK);
    // Nothing was made
    assert_eq!(app.get(REQUESTS, &owner).await.body["data"], json!([]));
    // And a token with neither maintenance scope cannot even read
    let other = oauth_token(&app, &org, "read:properties");
    assert_eq!(app.get("/api/ai/maintenance", &other).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_tenant_reports_only_for_their_own_unit_and_sees_only_their_own() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let b = building(&app, &org, &owner).await;
    let [mine, theirs] = &b.tenant_tokens;

    // Another tenant's unit: 404, as a foreign id
    let refused = app.post(REQUESTS, mine, &leak(&b.property, Some(&b.units[1]))).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{:?}", refused.body);
    assert!(app.get(REQUESTS, &owner).await.body["data"].as_array().unwrap().is_empty());

    // Their own unit, named or inferred
    let own = created(&app, mine, REQUESTS, leak(&b.property, Some(&b.units[0]))).await;
    assert_eq!(own["tenant_id"], b.tenants[0].as_str());
    let inferred = created(&app, theirs, REQUESTS, leak(&b.property, None)).await;
    assert_eq!(inferred["unit_id"], b.units[1].as_str());
    assert_eq!(inferred["tenant_id"], b.tenants[1].as_str());

    // Each sees only their own: another's is 404 everywhere
    let other = format!("{REQUESTS}/{}", id(&inferred));
    for uri in [other.clone(), format!("{other}/updates")] {
        let response = app.get(&uri, mine).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(response.error_code(), "RESOURCE_NOT_FOUND");
    }
    let comment = app.post(&format!("{other}/updates"), mine, &json!({"comment": "me too"})).await;
    assert_eq!(comment.status, StatusCode::NOT_FOUND);
    let listed = app.get(REQUESTS, mine).await;
    let ids: Vec<&str> = listed.body["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [own["id"].as_str().unwrap()]);
    let integration = app.get("/api/ai/maintenance", mine).await;
    assert_eq!(integration.body["maintenance_requests"].as_array().unwrap().len(), 1);
    // A tenant cannot assign or complete
    let assign = app
        .post(
            &format!("{REQUESTS}/{}/assign", id(&own)),
            mine,
            &json!({"assignee_id": "user_01JD3M00000000000000000001"}),
        )
        .await;
    assert_eq!(assign.status, StatusCode::FORBIDDEN);
    // The manager sees both
    assert_eq!(app.get(REQUESTS, &owner).await.body["data"].as_array().unwrap().len(), 2);
    // Another organization sees neither
    let stranger = app.token(&new_org(), &["OrganizationOwner"]);
    assert_eq!(app.get(&format!("{REQUESTS}/{}", id(&own)), &stranger).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_status_moves_only_along_allowed_transitions_and_the_timeline_tells_who_and_when() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["PropertyManager"]);
    let b = building(&app, &org, &app.token(&org, &["OrganizationOwner"])).await;
    let request = created(&app, &b.tenant_tokens[0], REQUESTS, leak(&b.property, None)).await;
    let uri = format!("{REQUESTS}/{}", id(&request));

    // An open request cannot complete
    let early = app.post(&format!("{uri}/complete"), &owner, &json!({})).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{:?}", early.body);
    assert_eq!(early.error_code(), "CONFLICT");

    // Assign to a staff member, who sees it (and only it)
    let staff_claims = claims(&app.services.config, &org, &["MaintenanceStaff"]);
    let staff_id = staff_claims.sub.clone();
    let staff = app.sign(&staff_claims);
    assert_eq!(app.get(&uri, &staff).await.status, StatusCode::NOT_FOUND);
    let assigned =
        app.post(&format!("{uri}/assign"), &owner, &json!({"assignee_id": staff_id, "note": "Plumber Tuesday"})).await;
    assert_eq!(assigned.status, StatusCode::OK, "{:?}", assigned.body);
    assert_eq!(assigned.body["data"]["status"], "assigned");
    assert_eq!(app.get(&uri, &staff).await.status, StatusCode::OK);
    let unassigned = created(&app, &owner, REQUESTS, leak(&b.property, Some(&b.units[1]))).await;
    assert_eq!(app.get(&format!("{REQUESTS}/{}", id(&unassigned)), &staff).await.status, StatusCode::NOT_FOUND);
    let theirs = app.get(REQUESTS, &staff).await;
    assert_eq!(theirs.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!("{REQUESTS}?assignee_id={staff_id}"), &owner).await.body["data"][0]["id"],
        id(&request)
    );

    // The staff member starts it, comments, and completes it
    let mut replace = leak(&b.property, None);
    replace.as_object_mut().unwrap().remove("property_id");
    replace["status"] = json!("in_progress");
    let started = app.call(Method::PUT, &uri, Some(&staff), Some(&replace), &[]).await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.body);
    assert_eq!(started.body["data"]["status"], "in_progress");
    created(&app, &staff, &format!("{uri}/updates"), json!({"comment": "Replaced the trap"})).await;
    let done = app.post(&format!("{uri}/complete"), &staff, &json!({"resolution": "Fixed"})).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body["data"]["status"], "completed");
    assert!(done.body["data"]["completed_at"].is_string());

    // A completed request goes nowhere: back to in progress, cancelled, or reassigned is 409
    for status in ["in_progress", "cancelled", "open"] {
        replace["status"] = json!(status);
        let refused = app.call(Method::PUT, &uri, Some(&owner), Some(&replace), &[]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{status}: {:?}", refused.body);
    }
    let reassign = app.post(&format!("{uri}/assign"), &owner, &json!({"assignee_id": staff_id})).await;
    assert_eq!(reassign.status, StatusCode::CONFLICT);
    let read = app.get(&uri, &owner).await;
    assert_eq!(read.body["data"]["status"], "completed");

    // The timeline: every step, with who and when, oldest first
    let timeline = app.get(&format!("{uri}/updates"), &owner).await;
    assert_eq!(timeline.status, StatusCode::OK);
    let entries = timeline.body["data"].as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "assignment", "status_change", "comment", "status_change"]);
    assert_eq!(entries[1]["assignee_id"], staff_id.as_str());
    assert_eq!(entries[1]["comment"], "Plumber Tuesday");
    assert_eq!((&entries[2]["from_status"], &entries[2]["to_status"]), (&json!("assigned"), &json!("in_progress")));
    assert_eq!(entries[3]["comment"], "Replaced the trap");
    assert_eq!(entries[4]["to_status"], "completed");
    assert_eq!(entries[4]["comment"], "Fixed");
    assert_eq!(entries[3]["actor"], format!("user:{staff_id}"));
    assert!(entries.iter().all(|e| e["at"].is_string()));
    // The tenant who reported it sees the same timeline
    let tenant_view = app.get(&format!("{uri}/updates"), &b.tenant_tokens[0]).await;
    assert_eq!(tenant_view.body["data"].as_array().unwrap().len(), 5);

    // Filters
    let completed = app.get(&format!("{REQUESTS}?status=completed"), &owner).await;
    assert_eq!(completed.body["data"].as_array().unwrap().len(), 1);
    let open = app.get(&format!("{REQUESTS}?status=open&unit_id={}", b.units[1]), &owner).await;
    assert_eq!(open.body["data"][0]["id"], id(&unassigned));
    let later = app.get(&format!("{REQUESTS}?updated_since={}", day(1)), &owner).await;
    assert_eq!(later.body["data"], json!([]));
    assert_eq!(app.get(&format!("{REQUESTS}?status=broken"), &owner).await.status, StatusCode::BAD_REQUEST);

    // Delete: gone from both APIs
    let deleted = app.call(Method::DELETE, &format!("{REQUESTS}/{}", id(&unassigned)), Some(&owner), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{REQUESTS}/{}", id(&unassigned)), &owner).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_emergency_pages_at_once_and_each_step_is_on_the_bus() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let pattern = json!({"source": [shared::events::DOMAIN_SOURCE], "detail": {"organization_id": [org]},
        "detail-type": [{"prefix": "maintenance."}]});
    let bus = BusQueue::subscribe(&app, "maintenance", &pattern).await;
    let property = id(&app.create_property(&owner, "Emergency Hall").await);

    let mut body = leak(&property, None);
    body["priority"] = json!("emergency");
    let request = created(&app, &owner, REQUESTS, body).await;
    let uri = format!("{REQUESTS}/{}", id(&request));
    let staff = shared::domain::ids::new("user");
    let assigned = app.post(&format!("{uri}/assign"), &owner, &json!({"assignee_id": staff})).await;
    assert_eq!(assigned.status, StatusCode::OK);
    let done = app.post(&format!("{uri}/complete"), &owner, &json!({})).await;
    assert_eq!(done.status, StatusCode::OK);

    let wanted = ["maintenance.created", "maintenance.emergency", "maintenance.assigned", "maintenance.completed"];
    let mut seen: Vec<Value> = Vec::new();
    for _ in 0..30 {
        pump.drain().await;
        seen.extend(bus.receive(1).await);
        let types: BTreeSet<&str> = seen.iter().filter_map(|e| e["detail-type"].as_str()).collect();
        if wanted.iter().all(|w| types.contains(w)) {
            break;
        }
    }
    let of = |kind: &str| seen.iter().filter(|e| e["detail-type"] == kind).collect::<Vec<_>>();
    for kind in wanted {
        assert_eq!(of(kind).len(), 1, "{kind} once: {seen:?}");
        let detail = &of(kind)[0]["detail"];
        assert_eq!(detail["event"], kind);
        assert_eq!(detail["data"]["id"], id(&request).as_str());
        assert!(detail["event_id"].as_str().unwrap().starts_with("evt_"));
    }
    assert_eq!(of("maintenance.emergency")[0]["detail"]["data"]["priority"], "emergency");
    assert_eq!(of("maintenance.assigned")[0]["detail"]["data"]["assignee_id"], staff.as_str());
    assert_eq!(of("maintenance.completed")[0]["detail"]["data"]["status"], "completed");
}

const WORK_ORDERS: &str = "/api/v1/operations/work-orders";

#[tokio::test]
async fn completing_the_last_open_work_order_completes_the_request() {
    let app = app().await;
    let org = new_org();
    let manager = app.token(&org, &["PropertyManager"]);
    let b = building(&app, &org, &app.token(&org, &["OrganizationOwner"])).await;
    let request = created(&app, &b.tenant_tokens[0], REQUESTS, leak(&b.property, None)).await;
    let request_uri = format!("{REQUESTS}/{}", id(&request));
    let staff_claims = claims(&app.services.config, &org, &["MaintenanceStaff"]);
    let staff_id = staff_claims.sub.clone();
    let staff = app.sign(&staff_claims);

    // Two work orders for the request: a plumber's and a painter's
    let order = |title: &str| {
        json!({"maintenance_request_id": id(&request), "title": title, "assignee_id": staff_id,
            "scheduled_start": "2026-12-02T09:00:00Z", "scheduled_end": "2026-12-02T12:00:00Z", "estimate": 25000})
    };
    let plumbing = created(&app, &manager, WORK_ORDERS, order("Replace the trap")).await;
    assert_eq!(plumbing["property_id"], b.property.as_str());
    assert_eq!(plumbing["unit_id"], b.units[0].as_str());
    assert_eq!(plumbing["status"], "scheduled");
    let painting = created(&app, &manager, WORK_ORDERS, order("Paint the cabinet")).await;
    let (plumbing_uri, painting_uri) =
        (format!("{WORK_ORDERS}/{}", id(&plumbing)), format!("{WORK_ORDERS}/{}", id(&painting)));

    // A scheduled work order cannot complete; starting it moves the request to in_progress
    let early = app.post(&format!("{plumbing_uri}/complete"), &staff, &json!({"cost": 100})).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    let started = app.post(&format!("{plumbing_uri}/start"), &staff, &json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.body);
    assert_eq!(app.get(&request_uri, &manager).await.body["data"]["status"], "in_progress");

    // Completing one of two leaves the request in progress
    let done =
        app.post(&format!("{plumbing_uri}/complete"), &staff, &json!({"cost": 18950, "notes": "New P-trap"})).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!((&done.body["data"]["cost"], &done.body["data"]["status"]), (&json!(18950), &json!("completed")));
    assert_eq!(app.get(&request_uri, &manager).await.body["data"]["status"], "in_progress");
    let again = app.post(&format!("{plumbing_uri}/start"), &staff, &json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Completing the last one completes the request, on its timeline too
    assert_eq!(app.post(&format!("{painting_uri}/start"), &staff, &json!({})).await.status, StatusCode::OK);
    let last = app.post(&format!("{painting_uri}/complete"), &staff, &json!({"cost": 4000})).await;
    assert_eq!(last.status, StatusCode::OK);
    let finished = app.get(&request_uri, &manager).await;
    assert_eq!(finished.body["data"]["status"], "completed");
    let timeline = app.get(&format!("{request_uri}/updates"), &b.tenant_tokens[0]).await;
    let last_entry = timeline.body["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last_entry["to_status"], &last_entry["actor"]),
        (&json!("completed"), &json!(format!("user:{staff_id}")))
    );

    // No more work orders for a completed request; the listing filters by request
    let refused = app.post(WORK_ORDERS, &manager, &order("One more")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let listed = app.get(&format!("{WORK_ORDERS}?maintenance_request_id={}", id(&request)), &manager).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(app.get(WORK_ORDERS, &staff).await.body["data"].as_array().unwrap().len(), 2);
    // Tenants hold no work-order permission
    assert_eq!(app.get(WORK_ORDERS, &b.tenant_tokens[0]).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn work_orders_refuse_bad_input_and_closed_states() {
    let app = app().await;
    let org = new_org();
    let manager = app.token(&org, &["PropertyManager"]);
    let owner = app.token(&org, &["OrganizationOwner"]);
    let property = id(&app.create_property(&owner, "Work Place").await);

    let bad = json!({"property_id": property, "title": "", "estimate": -1, "scheduled_start": "2026-12-02T12:00:00Z",
        "scheduled_end": "2026-12-02T09:00:00Z", "assignee_id": "bob"});
    let refused = app.post(WORK_ORDERS, &manager, &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: BTreeSet<&str> =
        refused.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, BTreeSet::from(["title", "estimate", "scheduled_end", "assignee_id"]));
    let foreign = json!({"property_id": shared::domain::ids::new("prop"), "title": "Nowhere"});
    assert_eq!(app.post(WORK_ORDERS, &manager, &foreign).await.status, StatusCode::NOT_FOUND);

    // A standalone work order: cancelled, it can neither change nor start
    let order = created(&app, &manager, WORK_ORDERS, json!({"property_id": property, "title": "Clean gutters"})).await;
    let uri = format!("{WORK_ORDERS}/{}", id(&order));
    assert_eq!(app.post(&format!("{uri}/cancel"), &manager, &json!({})).await.status, StatusCode::OK);
    assert_eq!(app.post(&format!("{uri}/start"), &manager, &json!({})).await.status, StatusCode::CONFLICT);
    let put = app.call(Method::PUT, &uri, Some(&manager), Some(&json!({"title": "Later"})), &[]).await;
    assert_eq!(put.status, StatusCode::CONFLICT);
    let deleted = app.call(Method::DELETE, &uri, Some(&manager), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&uri, &manager).await.status, StatusCode::NOT_FOUND);
}

const VENDORS: &str = "/api/v1/operations/vendors";

#[tokio::test]
async fn vendor_performance_matches_its_work_orders_and_insurance_and_open_work_guard_it() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let manager = app.token(&org, &["PropertyManager"]);
    let property = id(&app.create_property(&owner, "Vendor Place").await);
    let vendor = created(
        &app,
        &manager,
        VENDORS,
        json!({"name": "Ace Plumbing", "email": "jobs@ace.example",
        "phone": "+15550199", "trades": ["plumbing", "hvac"], "insurance_expires_on": day(365)}),
    )
    .await;
    assert_eq!(vendor["insured"], true);
    let vendor_uri = format!("{VENDORS}/{}", id(&vendor));
    let lapsed = created(&app, &manager, VENDORS, json!({"name": "Lapsed Co", "insurance_expires_on": day(-1)})).await;

    // A vendor whose insurance has expired cannot be assigned
    let refused = app
        .post(WORK_ORDERS, &manager, &json!({"property_id": property, "title": "Fix", "vendor_id": id(&lapsed)}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    let unknown = json!({"property_id": property, "title": "Fix", "vendor_id": shared::domain::ids::new("ven")});
    assert_eq!(app.post(WORK_ORDERS, &manager, &unknown).await.status, StatusCode::NOT_FOUND);

    // Three work orders: two completed (costs 10000 and 5000), one still open
    let mut ids = Vec::new();
    for title in ["Boiler", "Tap", "Drain"] {
        let order = created(
            &app,
            &manager,
            WORK_ORDERS,
            json!({"property_id": property, "title": title, "vendor_id": id(&vendor)}),
        )
        .await;
        ids.push(id(&order));
    }
    for (order, cost) in [(&ids[0], 10000), (&ids[1], 5000)] {
        let uri = format!("{WORK_ORDERS}/{order}");
        assert_eq!(app.post(&format!("{uri}/start"), &manager, &json!({})).await.status, StatusCode::OK);
        assert_eq!(app.post(&format!("{uri}/complete"), &manager, &json!({"cost": cost})).await.status, StatusCode::OK);
    }

    // Ratings: 1 to 5, once per completed work order
    let rate = |order: &str, rating: u8| json!({"work_order_id": order, "rating": rating});
    assert_eq!(app.post(&format!("{vendor_uri}/rate"), &manager, &rate(&ids[0], 5)).await.status, StatusCode::OK);
    assert_eq!(app.post(&format!("{vendor_uri}/rate"), &manager, &rate(&ids[1], 4)).await.status, StatusCode::OK);
    assert_eq!(app.post(&format!("{vendor_uri}/rate"), &manager, &rate(&ids[0], 1)).await.status, StatusCode::CONFLICT);
    assert_eq!(app.post(&format!("{vendor_uri}/rate"), &manager, &rate(&ids[2], 3)).await.status, StatusCode::CONFLICT);
    assert_eq!(
        app.post(&format!("{vendor_uri}/rate"), &manager, &rate(&ids[1], 6)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The figures match the work orders
    let figures = app.get(&format!("{vendor_uri}/performance"), &manager).await;
    assert_eq!(figures.status, StatusCode::OK);
    let f = &figures.body["data"];
    assert_eq!((&f["work_orders_total"], &f["work_orders_completed"]), (&json!(3), &json!(2)));
    assert_eq!((&f["average_rating"], &f["ratings_count"]), (&json!(4.5), &json!(2)));
    assert_eq!(f["total_cost"], 15000);
    let mut orders = Vec::new();
    for order in &ids[..2] {
        orders.push(app.get(&format!("{WORK_ORDERS}/{order}"), &manager).await.body["data"].clone());
    }
    let mut seconds: Vec<i64> = orders
        .iter()
        .map(|o| {
            let at = |field: &str| shared::time_format::parse(o[field].as_str().unwrap()).unwrap();
            (at("completed_at") - at("assigned_at")).whole_seconds()
        })
        .collect();
    seconds.sort_unstable();
    assert_eq!(f["median_completion_seconds"], (seconds[0] + seconds[1]) / 2);
    let listed = app.get(&format!("{vendor_uri}/work-orders"), &manager).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 3);

    // A vendor with open work orders cannot be deleted; once they are closed it can
    let blocked = app.call(Method::DELETE, &vendor_uri, Some(&manager), None, &[]).await;
    assert_eq!(blocked.status, StatusCode::CONFLICT);
    assert_eq!(
        app.post(&format!("{WORK_ORDERS}/{}/cancel", ids[2]), &manager, &json!({})).await.status,
        StatusCode::OK
    );
    let deleted = app.call(Method::DELETE, &vendor_uri, Some(&manager), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&vendor_uri, &manager).await.status, StatusCode::NOT_FOUND);
}
