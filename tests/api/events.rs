//! Domain events: table changes relayed (through the stream, in process) to the bus and
//! the organization's event log; the log API and its Server-Sent Events stream.

use std::time::Duration;

use axum::body::Body;
use doorstep_tests::bus_queue::BusQueue;
use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{TestApp, app, new_org};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::events::DomainEvent;
use shared::time_format;
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(30);

/// The organization's whole log through the API, oldest first.
async fn log_of(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.get("/api/v1/events?page_size=100", token).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body["data"].as_array().cloned().unwrap_or_default()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["event"].as_str().unwrap()).collect()
}

/// Pumps the stream until the log's last event is of type `last`; returns the log.
async fn log_until(app: &TestApp, pump: &Pump, token: &str, last: &str) -> Vec<Value> {
    pump.until(WAIT, last, || async {
        let events = log_of(app, token).await;
        (events.last().and_then(|e| e["event"].as_str()) == Some(last)).then_some(events)
    })
    .await
}

async fn created(app: &TestApp, token: &str, uri: &str, body: Value) -> Value {
    let response = app.post(uri, token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{uri}: {:?}", response.body);
    response.body["data"].clone()
}

async fn patched(app: &TestApp, token: &str, uri: &str, body: Value) -> Value {
    let response = app.call(Method::PATCH, uri, Some(token), Some(&body), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{uri}: {:?}", response.body);
    response.body["data"].clone()
}

async fn deleted(app: &TestApp, token: &str, uri: &str) {
    let response = app.call(Method::DELETE, uri, Some(token), None, &[]).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT, "{uri}: {:?}", response.body);
}

fn property_body(name: &str) -> Value {
    json!({"name": name, "type": "residential",
        "address": {"street": "1 Event Way", "city": "Springfield", "state": "IL", "postal_code": "62701"}})
}

/// The event's `data` is the resource as the API showed it, plus `<resource>_id` and
/// `organization_id`.
fn assert_shows(event: &Value, resource: &str, shown: &Value, org_id: &str) {
    let mut expected = shown.as_object().unwrap().clone();
    expected.insert(format!("{resource}_id"), shown["id"].clone());
    expected.insert("organization_id".into(), json!(org_id));
    // Derived from today's date; the relay computes it when it relays.
    for derived in ["occupied", "status"] {
        if resource != "property" && event["data"].get(derived).is_some() {
            expected.insert(derived.into(), event["data"][derived].clone());
        }
    }
    assert_eq!(event["data"], Value::Object(expected), "{}", event["event"]);
}

fn assert_envelope(event: &Value, org_id: &str) {
    let keys: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
    let updated = event["event"].as_str().unwrap().ends_with(".updated");
    let mut expected = vec!["data", "event", "event_id", "organization_id", "timestamp"];
    if updated {
        expected.insert(0, "changed_fields");
    }
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected, "{event}");
    assert_eq!(event["organization_id"], org_id);
    assert!(shared::domain::ids::is_valid(event["event_id"].as_str().unwrap(), "evt"));
    assert!(time_format::parse(event["timestamp"].as_str().unwrap()).is_some());
}

#[tokio::test]
async fn each_property_unit_tenant_and_lease_write_produces_exactly_one_event() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);

    // Given a property, a unit and a tenant, each created and then changed
    let property = created(&app, &token, "/api/v1/properties", property_body("Event Court")).await;
    let prop = property["id"].as_str().unwrap().to_owned();
    let renamed = patched(&app, &token, &format!("/api/v1/properties/{prop}"), json!({"name": "Event Towers"})).await;
    let units = format!("/api/v1/properties/{prop}/units");
    let unit = created(&app, &token, &units, json!({"unit_number": "101", "possession_start": "2024-01-01"})).await;
    let unit_id = unit["id"].as_str().unwrap().to_owned();
    let resized = patched(&app, &token, &format!("{units}/{unit_id}"), json!({"sqft": 910})).await;
    let tenants = format!("/api/v1/properties/{prop}/tenants");
    let tenant = created(&app, &token, &tenants, json!({"name": "Ada Renter", "email": "ada@example.com"})).await;
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    let rephoned = patched(&app, &token, &format!("{tenants}/{tenant_id}"), json!({"phone": "+14155550100"})).await;
    // When a lease is booked (which also writes the unit, the property and the tenant)
    // and moved out of, and a second unit, tenant and property come and go
    let today = time::OffsetDateTime::now_utc().date();
    let start = shared::domain::calendar::format_date(today - time::Duration::days(30));
    let end = shared::domain::calendar::format_date(today + time::Duration::days(300));
    let lease = created(
        &app,
        &token,
        &format!("{tenants}/{tenant_id}/lease"),
        json!({"unit_id": unit_id, "start_date": start, "end_date": end, "rent_amount": 2400}),
    )
    .await;
    let lease_id = lease["id"].as_str().unwrap().to_owned();
    let move_out = json!({"move_out": time_format::format(time::OffsetDateTime::now_utc())});
    let moved = app.post(&format!("/api/v1/leases/{lease_id}/move-out"), &token, &move_out).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let spare = created(&app, &token, &units, json!({"unit_number": "102"})).await;
    deleted(&app, &token, &format!("{units}/{}", spare["id"].as_str().unwrap())).await;
    let guest = created(&app, &token, &tenants, json!({"name": "Bo Guest", "email": "bo@example.com"})).await;
    deleted(&app, &token, &format!("{tenants}/{}", guest["id"].as_str().unwrap())).await;
    let other = created(&app, &token, "/api/v1/properties", property_body("Short Lived")).await;
    deleted(&app, &token, &format!("/api/v1/properties/{}", other["id"].as_str().unwrap())).await;

    // Then the log holds exactly one event per write, in order
    let events = log_until(&app, &pump, &token, "property.deleted").await;
    assert_eq!(
        types(&events),
        [
            "property.created",
            "property.updated",
            "unit.created",
            "unit.updated",
            "tenant.created",
            "tenant.updated",
            "lease.created",
            "lease.updated",
            "unit.created",
            "unit.deleted",
            "tenant.created",
            "tenant.deleted",
            "property.created",
            "property.deleted",
        ]
    );
    for event in &events {
        assert_envelope(event, &org);
    }
    // ... each in the webhook payload shape, showing the resource as the API did
    assert_shows(&events[0], "property", &property, &org);
    assert_shows(&events[1], "property", &renamed, &org);
    assert_eq!(events[1]["changed_fields"], json!(["name"]));
    assert_shows(&events[2], "unit", &unit, &org);
    assert_shows(&events[3], "unit", &resized, &org);
    assert_eq!(events[3]["changed_fields"], json!(["sqft"]));
    assert_shows(&events[4], "tenant", &tenant, &org);
    assert_shows(&events[5], "tenant", &rephoned, &org);
    assert_eq!(events[5]["changed_fields"], json!(["phone"]));
    assert_shows(&events[6], "lease", &lease, &org);
    assert_shows(&events[7], "lease", &moved.body["data"], &org);
    assert!(events[7]["changed_fields"].as_array().unwrap().contains(&json!("move_out")));
    assert_eq!(events[13]["data"]["property_id"], other["id"]);
    // ... with ids unique and sorted like the log
    let mut ids: Vec<&str> = events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), events.len());
}

#[tokio::test]
async fn writes_that_fail_their_condition_produce_no_event() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let property = created(&app, &token, "/api/v1/properties", property_body("Guarded")).await;
    let uri = format!("/api/v1/properties/{}", property["id"].as_str().unwrap());
    let units = format!("{uri}/units");
    created(&app, &token, &units, json!({"unit_number": "7"})).await;

    // When a PATCH with a stale If-Match and a unit with a taken number are refused
    let stale =
        app.call(Method::PATCH, &uri, Some(&token), Some(&json!({"name": "Lost"})), &[("if-match", "\"9\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let taken = app.post(&units, &token, &json!({"unit_number": "7"})).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);
    // ... and a write that does succeed comes after them on the stream
    patched(&app, &token, &uri, json!({"name": "Marker"})).await;

    // Then the refused writes left nothing in the log
    let events = log_until(&app, &pump, &token, "property.updated").await;
    assert_eq!(types(&events), ["property.created", "unit.created", "property.updated"]);
    assert_eq!(events[2]["data"]["name"], "Marker");
}

/// A queue that receives the domain events of one organization from the bus.
struct BusTap {
    queue: BusQueue,
}

impl BusTap {
    async fn for_org(app: &TestApp, org_id: &str) -> Self {
        let pattern = json!({"source": [shared::events::DOMAIN_SOURCE], "detail": {"organization_id": [org_id]}});
        Self { queue: BusQueue::subscribe(app, "events", &pattern).await }
    }

    /// The event ids the bus delivered until a receive waits `quiet` seconds in vain.
    async fn delivered(&self, quiet: i32) -> Vec<String> {
        let mut ids = Vec::new();
        loop {
            let events = self.queue.receive(quiet).await;
            if events.is_empty() {
                return ids;
            }
            ids.extend(events.iter().map(|e| e["detail"]["event_id"].as_str().unwrap().to_owned()));
        }
    }
}

/// The relay fixture (a stream batch of one property's life) for a fresh organization,
/// with its records created `at`.
fn stream_batch(org_id: &str, at: time::OffsetDateTime) -> Value {
    let path = format!("{}/../events/events-relay/stream-batch.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text
        .replace("__ORG_ID__", org_id)
        .replace("__PROPERTY_ID__", &shared::domain::ids::new("prop"))
        .replace("__EVENT_ID__", &ulid::Ulid::generate().to_string());
    let mut batch: Value = serde_json::from_str(&text).unwrap();
    for (i, record) in batch["Records"].as_array_mut().unwrap().iter_mut().enumerate() {
        record["dynamodb"]["ApproximateCreationDateTime"] = json!(at.unix_timestamp() + i64::try_from(i).unwrap());
    }
    batch
}

#[tokio::test]
async fn a_batch_delivered_twice_publishes_each_event_once() {
    let app = app().await;
    let relay = events_relay::Relay::new(app.services.store.clone(), app.services.events.clone());
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let tap = BusTap::for_org(&app, &org).await;
    let batch = stream_batch(&org, time::OffsetDateTime::now_utc());

    // When Lambda delivers the same batch twice
    let first = relay.handle(batch.clone()).await.expect("relayed");
    let second = relay.handle(batch).await.expect("relayed");

    // Then both succeed, the log holds each event once, and the bus got each once
    assert_eq!(first, json!({"batchItemFailures": []}));
    assert_eq!(second, json!({"batchItemFailures": []}));
    let events = log_of(&app, &token).await;
    assert_eq!(types(&events), ["property.created", "property.updated", "property.deleted"]);
    assert_eq!(events[1]["changed_fields"], json!(["name"]), "the unit counter alone is no change");
    let mut published = tap.delivered(2).await;
    published.sort_unstable();
    let mut logged: Vec<String> = events.iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect();
    logged.sort_unstable();
    assert_eq!(published, logged);
}

#[tokio::test]
async fn the_redrive_publishes_what_the_bus_refused() {
    let app = app().await;
    // Given a relay whose bus is unreachable
    let sdk = &app.services.aws.sdk_config;
    let dead_bus = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(sdk).endpoint_url("http://127.0.0.1:9").build(),
    );
    let broken =
        events_relay::Relay::new(app.services.store.clone(), shared::events::EventPublisher::new(dead_bus, "nowhere"));
    let relay = events_relay::Relay::new(app.services.store.clone(), app.services.events.clone());
    let refused_org = new_org();
    let response = broken.handle(stream_batch(&refused_org, time::OffsetDateTime::now_utc())).await.expect("relayed");
    // Then the records are done with (nothing for Lambda to retry), logged and pending
    assert_eq!(response, json!({"batchItemFailures": []}));
    let token = app.token(&refused_org, &["OrganizationOwner"]);
    let events = log_of(&app, &token).await;
    assert_eq!(events.len(), 3);
    for event in &events {
        let logged = app.services.store.event_log().get(&refused_org, event["event_id"].as_str().unwrap()).await;
        assert!(!logged.unwrap().unwrap().published);
    }

    // Given an event the bus refused two minutes ago
    let org = new_org();
    let tap = BusTap::for_org(&app, &org).await;
    let event = DomainEvent {
        event_id: shared::domain::ids::new("evt"),
        event: "property.created".into(),
        timestamp: time_format::format(time_format::now()),
        organization_id: org.clone(),
        data: json!({"property_id": "prop_01JD3M00000000000000000009", "organization_id": org}),
        changed_fields: None,
    };
    let log = app.services.store.event_log();
    log.record(&event, time_format::now() - time::Duration::minutes(2)).await.expect("logged");
    // When the schedule fires
    let schedule =
        std::fs::read_to_string(format!("{}/../events/events-relay/schedule.json", env!("CARGO_MANIFEST_DIR")))
            .expect("fixture");
    let outcome = relay.handle(serde_json::from_str(&schedule).unwrap()).await.expect("redrive");
    // Then the bus has it, once, and it is marked published
    assert!(outcome["published"].as_u64().unwrap() >= 1, "{outcome}");
    assert_eq!(tap.delivered(2).await, vec![event.event_id.clone()]);
    assert!(log.get(&org, &event.event_id).await.unwrap().unwrap().published);
}

#[tokio::test]
async fn an_organization_never_sees_another_organizations_events() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let (ours, theirs) = (new_org(), new_org());
    let our_token = app.token(&ours, &["OrganizationOwner"]);
    let their_token = app.token(&theirs, &["OrganizationOwner"]);
    for n in 0..3 {
        created(&app, &our_token, "/api/v1/properties", property_body(&format!("Ours {n}"))).await;
    }
    created(&app, &their_token, "/api/v1/properties", property_body("Theirs")).await;
    let their_events = log_until(&app, &pump, &their_token, "property.created").await;
    let our_events = pump
        .until(WAIT, "our three events", || async {
            let events = log_of(&app, &our_token).await;
            (events.len() == 3).then_some(events)
        })
        .await;

    // Each log holds only its own organization's events
    assert!(our_events.iter().all(|e| e["organization_id"] == ours.as_str()));
    assert_eq!(types(&their_events), ["property.created"]);
    assert_eq!(their_events[0]["data"]["name"], "Theirs");
    // A cursor of one organization is refused in another
    let page = app.get("/api/v1/events?page_size=1", &our_token).await;
    let cursor = page.body["meta"]["pagination"]["next_cursor"].as_str().unwrap().to_owned();
    let foreign = app.get(&format!("/api/v1/events?page_size=1&cursor={cursor}"), &their_token).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    // ... and so is resuming a stream after another organization's event
    let their_id = their_events[0]["event_id"].as_str().unwrap();
    let resumed = app
        .call(
            Method::GET,
            "/api/v1/events",
            Some(&our_token),
            None,
            &[("accept", "text/event-stream"), ("last-event-id", their_id)],
        )
        .await;
    assert_eq!(resumed.status, StatusCode::BAD_REQUEST);
    // A Tenant reads no organization log, and may not mint a stream token
    let tenant = app.token(&ours, &["Tenant"]);
    assert_eq!(app.get("/api/v1/events", &tenant).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post("/api/v1/events/stream-tokens", &tenant, &json!({})).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_log_filters_by_type_wildcard_and_since_and_rejects_bad_filters() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let before = time_format::now();
    let property = created(&app, &token, "/api/v1/properties", property_body("Filtered")).await;
    let prop = property["id"].as_str().unwrap();
    created(&app, &token, &format!("/api/v1/properties/{prop}/units"), json!({"unit_number": "1"})).await;
    log_until(&app, &pump, &token, "unit.created").await;

    let units = app.get("/api/v1/events?type=unit.*", &token).await;
    assert_eq!(types(units.body["data"].as_array().unwrap()), ["unit.created"]);
    let exact = app.get("/api/v1/events?type=property.created", &token).await;
    assert_eq!(types(exact.body["data"].as_array().unwrap()), ["property.created"]);
    let since = time_format::format(before);
    assert_eq!(
        app.get(&format!("/api/v1/events?since={since}"), &token).await.body["data"].as_array().unwrap().len(),
        2
    );
    let later = time_format::format(time_format::now() + time::Duration::hours(1));
    assert!(
        app.get(&format!("/api/v1/events?since={later}"), &token).await.body["data"].as_array().unwrap().is_empty()
    );
    for bad in ["type=unit*", "type=Unit.created", "type=.x", "since=yesterday", "colour=red", "page_size=0"] {
        let response = app.get(&format!("/api/v1/events?{bad}"), &token).await;
        assert!(response.status.is_client_error(), "{bad}: {}", response.status);
        assert!(response.body["error"]["code"].is_string(), "{bad}");
    }
}

/// An open Server-Sent Events response, read frame by frame.
struct EventStream {
    body: Body,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, uri: &str, headers: &[(&str, &str)]) -> Self {
        let mut builder = Request::builder().method(Method::GET).uri(uri).header("accept", "text/event-stream");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Body::empty()).unwrap();
        let response = app.gateway.router_for(&request).oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { body: response.into_body(), buffer: String::new() }
    }

    /// The next event (`event`, `id`, `data`), pumping the relay while waiting for it.
    async fn next(&mut self, pump: &Pump) -> (String, String, Value) {
        let give_up = tokio::time::Instant::now() + WAIT;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim_start().to_owned()))
                };
                if let (Some(event), Some(id), Some(data)) = (field("event"), field("id"), field("data")) {
                    return (event, id, serde_json::from_str(&data).unwrap());
                }
            }
            assert!(tokio::time::Instant::now() < give_up, "no event on the stream");
            pump.drain().await;
            // Wait for the next frame (the stream polls the log every 100 ms).
            if let Ok(frame) = tokio::time::timeout(Duration::from_millis(200), self.body.frame()).await {
                let frame = frame.expect("the stream is open").expect("a frame");
                if let Ok(data) = frame.into_data() {
                    self.buffer.push_str(std::str::from_utf8(&data).unwrap());
                }
            }
        }
    }
}

#[tokio::test]
async fn the_stream_delivers_new_events_and_resumes_without_gaps_or_repeats() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let org = new_org();
    let token = app.token(&org, &["PropertyManager"]);
    let owner = app.token(&org, &["OrganizationOwner"]);
    let bearer = format!("Bearer {token}");

    // Given a connected client
    let mut stream = EventStream::open(&app, "/api/v1/events", &[("authorization", &bearer)]).await;
    // When a property is created, the client receives its event
    let first = created(&app, &owner, "/api/v1/properties", property_body("Streamed 1")).await;
    let (kind, first_id, data) = stream.next(&pump).await;
    assert_eq!(kind, "property");
    assert_eq!(data["event"], "property.created");
    assert_eq!(data["event_id"], first_id.as_str());
    assert_eq!(data["data"]["property_id"], first["id"]);
    drop(stream);

    // Given events logged while the client was away
    let mut missed = Vec::new();
    for n in 2..=4 {
        missed.push(created(&app, &owner, "/api/v1/properties", property_body(&format!("Streamed {n}"))).await);
    }
    pump.until(WAIT, "the missed events", || async { (log_of(&app, &token).await.len() == 4).then_some(()) }).await;
    // When it reconnects with Last-Event-ID, through a stream token as a browser would
    let minted = app.post("/api/v1/events/stream-tokens", &token, &json!({})).await;
    assert_eq!(minted.status, StatusCode::CREATED, "{:?}", minted.body);
    let url = minted.body["data"]["url"].as_str().unwrap().to_owned();
    let mut resumed = EventStream::open(&app, &url, &[("last-event-id", &first_id)]).await;
    // Then it receives exactly the missed events, in order, then a new one
    for property in &missed {
        let (_, _, data) = resumed.next(&pump).await;
        assert_eq!(data["data"]["property_id"], property["id"]);
    }
    let later = created(&app, &owner, "/api/v1/properties", property_body("Streamed 5")).await;
    let (_, _, data) = resumed.next(&pump).await;
    assert_eq!(data["data"]["property_id"], later["id"], "no repeat, no gap");

    // A forged or foreign stream token opens nothing
    let forged = url.replace("stream_token=dse_", "stream_token=dse_x");
    let request = Request::builder().uri(&forged).header("accept", "text/event-stream").body(Body::empty()).unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    let as_page = app.get(&url, &token).await;
    assert_eq!(as_page.status, StatusCode::BAD_REQUEST, "a stream token is for streams only");
}

#[tokio::test]
async fn behind_the_http_api_a_stream_ends_once_caught_up_and_resumes() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let mut settings = events::StreamSettings::new(events::Delivery::Buffered);
    settings.settle = Duration::from_millis(500);
    let buffered = events::router(app.services.clone(), settings);
    let first = created(&app, &token, "/api/v1/properties", property_body("Buffered 1")).await;
    let second = created(&app, &token, "/api/v1/properties", property_body("Buffered 2")).await;
    let events = pump
        .until(WAIT, "both events", || async {
            let events = log_of(&app, &token).await;
            (events.len() == 2).then_some(events)
        })
        .await;
    assert_eq!(events[0]["data"]["property_id"], first["id"]);
    let first_id = events[0]["event_id"].as_str().unwrap();

    // When a client resumes after the first event through the buffered function, once
    // the second has settled
    let body = pump
        .until(WAIT, "the settled event", || async {
            let request = Request::builder()
                .uri("/api/v1/events")
                .header("accept", "text/event-stream")
                .header("authorization", format!("Bearer {token}"))
                .header("last-event-id", first_id)
                .body(Body::empty())
                .unwrap();
            let response = buffered.clone().oneshot(request).await.expect("infallible");
            let bytes = response.into_body().collect().await.expect("the stream ends").to_bytes();
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            text.contains("id: ").then_some(text)
        })
        .await;
    // Then the whole response is the retry hint and exactly the missed event
    assert!(body.starts_with("retry: 1000"), "{body}");
    assert_eq!(body.matches("id: ").count(), 1, "{body}");
    assert!(body.contains(second["id"].as_str().unwrap()));
    assert!(body.contains("event: property"));
}

#[tokio::test]
async fn the_list_fixture_runs_through_lambda_http() {
    let app = app().await;
    let pump = Pump::new(&app.services);
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    created(&app, &token, "/api/v1/properties", property_body("Fixture")).await;
    log_until(&app, &pump, &token, "property.created").await;
    let path = format!("{}/../events/events/list.json", env!("CARGO_MANIFEST_DIR"));
    let event = std::fs::read_to_string(&path).unwrap().replace("__TOKEN__", &token);
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Body::from(body.to_vec()));
    let response = app.gateway.router_for(&request).oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(types(body["data"].as_array().unwrap()), ["property.created"]);
    assert_eq!(body["meta"]["pagination"]["page_size"], 10);
}
