//! The rent-roll sync to RentSync: the sync reads properties and units created through
//! the API from DynamoDB Local and POSTs them to RentSync, played by `wiremock`.
//!
//! The retry index is one partition for every organization, and a retry tick sends
//! whatever is due; the work queue of on-demand runs is one for the test stack; tests
//! hold `SERIAL` so that one test's tick or worker never handles another's work.

use std::time::Duration;

use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{TestApp, app, new_org};
use http::{Method, StatusCode};
use rent_roll_sync::{SyncRun, Syncer};
use serde_json::{Value, json};
use shared::store::rent_roll::{
    AuthMode, DEFAULT_MAX_BODY_BYTES, DeliveryMode, PayloadFormat, RentRollDelivery, RentRollDeliveryStatus,
    RentSyncSettings, SyncMode, SyncSchedule,
};
use shared::time_format;
use time::OffsetDateTime;
use tokio::sync::Mutex as AsyncMutex;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

static SERIAL: AsyncMutex<()> = AsyncMutex::const_new(());
const SYNC_PATH: &str = "/v1/rent-roll/sync";

/// An organization with one active property holding two units (101 Available at
/// 1500.00, 102 Rented at 2100.00), its RentSync key in Secrets Manager, and RentSync.
struct Rig {
    app: TestApp,
    org: String,
    token: String,
    property: Value,
    units: Vec<Value>,
    key: String,
    rentsync: MockServer,
    syncer: Syncer,
}

impl Rig {
    async fn new(format: PayloadFormat, auth: AuthMode) -> Self {
        let app = app().await;
        let org = new_org();
        let token = app.token(&org, &["OrganizationOwner"]);
        let property = app.create_property(&token, "Sunset Apartments").await;
        let property_id = property["id"].as_str().unwrap().to_owned();
        let mut units = Vec::new();
        for (number, rent, bedrooms) in [("101", 1500, 1.0), ("102", 2100, 2.5)] {
            let body = json!({"unit_number": number, "base_rent": rent, "bedrooms": bedrooms, "bathrooms": 1});
            let created = app.post(&format!("/api/v1/properties/{property_id}/units"), &token, &body).await;
            assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
            units.push(created.body["data"].clone());
        }
        let rented = app
            .call(
                Method::PUT,
                &format!("/api/v1/properties/{property_id}/units/{}/status", units[1]["id"].as_str().unwrap()),
                Some(&token),
                Some(&json!({"status_id": 2})),
                &[],
            )
            .await;
        assert_eq!(rented.status, StatusCode::OK, "{:?}", rented.body);

        let key = format!("rs-key-{org}");
        let secret_id = format!("doorstep/test/rentsync/{org}");
        app.services.aws.secrets.create_secret().name(&secret_id).secret_string(&key).send().await.unwrap();
        let rentsync = MockServer::start().await;
        let settings = RentSyncSettings {
            organization_id: org.clone(),
            enabled: true,
            endpoint_url: format!("{}{SYNC_PATH}", rentsync.uri()),
            format,
            auth,
            secret_id,
            mode: SyncMode::Snapshot,
            delivery: DeliveryMode::PerProperty,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            sync_id_header: None,
            oauth: None,
            schedule: SyncSchedule::default(),
            version: 0,
            updated_at: time_format::format(time_format::now()),
        };
        app.services.store.rent_roll().save_settings(&settings).await.unwrap();
        let syncer = Syncer::new(&app.services, Duration::from_secs(5)).unwrap();
        Self { app, org, token, property, units, key, rentsync, syncer }
    }

    /// RentSync answers the first `times` POSTs with `status` (none when 0), then 200.
    async fn answering(self, status: u16, times: u64) -> Self {
        if times > 0 {
            Mock::given(method("POST"))
                .and(path(SYNC_PATH))
                .respond_with(ResponseTemplate::new(status))
                .up_to_n_times(times)
                .with_priority(1)
                .mount(&self.rentsync)
                .await;
        }
        Mock::given(method("POST"))
            .and(path(SYNC_PATH))
            .respond_with(ResponseTemplate::new(200))
            .with_priority(2)
            .mount(&self.rentsync)
            .await;
        self
    }

    /// Changes the organization's settings.
    async fn configure(self, change: impl FnOnce(&mut RentSyncSettings)) -> Self {
        let store = &self.app.services.store;
        let mut settings = store.rent_roll().settings(&self.org).await.unwrap().unwrap();
        change(&mut settings);
        store.rent_roll().save_settings(&settings).await.unwrap();
        self
    }

    fn token(&self) -> String {
        self.app.token(&self.org, &["OrganizationOwner"])
    }

    fn property_id(&self) -> &str {
        self.property["id"].as_str().unwrap()
    }

    /// Creates a unit in `property_id` through the API.
    async fn add_unit(&self, property_id: &str, number: &str) -> String {
        let body = json!({"unit_number": number, "base_rent": 1000});
        let created = self.app.post(&format!("/api/v1/properties/{property_id}/units"), &self.token(), &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        created.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Runs the sync of `at` and returns the bodies RentSync received from it.
    async fn sync_at(&self, at: OffsetDateTime) -> (rent_roll_sync::SyncSummary, Vec<Value>) {
        let before = self.received().await.len();
        let summary = self.syncer.sync_organization(&self.org, &SyncRun::at(at), at).await.unwrap();
        let bodies = self.received().await[before..].iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
        (summary, bodies)
    }

    async fn received(&self) -> Vec<Request> {
        self.rentsync.received_requests().await.unwrap_or_default()
    }

    async fn deliveries(&self) -> Vec<RentRollDelivery> {
        self.app.services.store.rent_roll().deliveries(&self.org, None, 100).await.unwrap().items
    }

    fn unit_id(&self, i: usize) -> &str {
        self.units[i]["id"].as_str().unwrap()
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn statuses(delivery: &RentRollDelivery) -> Vec<Option<u16>> {
    delivery.attempts.iter().map(|a| a.partner_status).collect()
}

#[tokio::test]
async fn the_nested_payload_reaches_rentsync_field_by_field_with_the_api_key() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(200, 0).await;
    let now = time_format::now();
    let run = SyncRun::at(now);

    let summary = rig.syncer.sync_organization(&rig.org, &run, now).await.unwrap();

    assert_eq!((summary.started, summary.delivered), (1, 1));
    let received = rig.received().await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.url.path(), SYNC_PATH);
    assert_eq!(header(request, "content-type"), Some("application/json"));
    assert!(header(request, "user-agent").unwrap().starts_with("Doorstep/"), "{:?}", request.headers);
    assert_eq!(header(request, "x-aigent-sync-id"), Some(run.sync_id.as_str()));
    assert_eq!(header(request, "x-api-key"), Some(rig.key.as_str()));
    assert_eq!(header(request, "authorization"), None);
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let expected = json!({
        "sync_metadata": {"sync_id": run.sync_id, "sync_timestamp": run.timestamp(), "source": "doorstep"},
        "property": {
            "project_id": rig.property["id"],
            "project_name": "Sunset Apartments",
            "address": "123 Main St, San Francisco, CA 94105"
        },
        "units": [
            {"unit_id": rig.unit_id(0), "unit_code": "101", "status_name": "Available", "is_available": true, "base_rent": 1500.0},
            {"unit_id": rig.unit_id(1), "unit_code": "102", "status_name": "Rented", "is_available": false, "base_rent": 2100.0}
        ]
    });
    assert_eq!(body, expected);
    assert!(body["units"][0]["base_rent"].is_f64(), "the guide's base_rent is a float");

    let deliveries = rig.deliveries().await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.status, RentRollDeliveryStatus::Delivered);
    assert_eq!(statuses(delivery), vec![Some(200)]);
    assert_eq!(delivery.unit_count, 2);
    assert_eq!(delivery.bytes, request.body.len() as u64);
    assert_eq!(delivery.property_id, rig.property["id"].as_str().unwrap());
}

#[tokio::test]
async fn the_flat_payload_carries_a_bearer_token() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Flat, AuthMode::Bearer).await.answering(200, 0).await;
    let now = time_format::now();
    let run = SyncRun::at(now);

    rig.syncer.sync_organization(&rig.org, &run, now).await.unwrap();

    let received = rig.received().await;
    assert_eq!(received.len(), 1);
    let expected_auth = format!("Bearer {}", rig.key);
    assert_eq!(header(&received[0], "authorization"), Some(expected_auth.as_str()));
    assert_eq!(header(&received[0], "x-api-key"), None);
    assert_eq!(header(&received[0], "x-aigent-sync-id"), Some(run.sync_id.as_str()));
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    let property_id = &rig.property["id"];
    let expected = json!({
        "sync_timestamp": run.timestamp(),
        "units": [
            {"property_id": property_id, "unit_id": rig.unit_id(0), "unit_code": "101", "status_id": 1,
             "status_name": "Available", "is_available": true, "base_rent": 1500.0, "bedrooms": 1.0, "bathrooms": 1.0},
            {"property_id": property_id, "unit_id": rig.unit_id(1), "unit_code": "102", "status_id": 2,
             "status_name": "Rented", "is_available": false, "base_rent": 2100.0, "bedrooms": 2.5, "bathrooms": 1.0}
        ]
    });
    assert_eq!(body, expected);
}

#[tokio::test]
async fn an_hmac_signed_payload_verifies_with_the_key() {
    use hmac::{Hmac, KeyInit, Mac};
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::Hmac).await.answering(200, 0).await;
    let now = time_format::now();

    rig.syncer.sync_organization(&rig.org, &SyncRun::at(now), now).await.unwrap();

    let received = rig.received().await;
    assert_eq!(received.len(), 1);
    let request = &received[0];
    let timestamp = header(request, "x-aigent-timestamp").unwrap();
    assert_eq!(timestamp, now.unix_timestamp().to_string());
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(rig.key.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = format!("sha256={}", shared::http::body::hex(&mac.finalize().into_bytes()));
    assert_eq!(header(request, "x-aigent-signature"), Some(expected.as_str()));
    assert_eq!((header(request, "x-api-key"), header(request, "authorization")), (None, None));
}

#[tokio::test]
async fn rentsync_failing_three_times_gets_four_attempts_and_one_delivery() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(503, 3).await;
    let start = time_format::now();
    let run = SyncRun::at(start);
    let minutes = |m: i64| start + time::Duration::minutes(m);

    rig.syncer.sync_organization(&rig.org, &run, start).await.unwrap();
    // Nothing is due before the first wait (1 minute) has passed.
    rig.syncer.run_due(start + time::Duration::seconds(59)).await.unwrap();
    assert_eq!(rig.received().await.len(), 1);
    // Then 1, 2 and 5 minutes after each failure.
    for (at, sent) in [(minutes(1), 2), (minutes(3), 3), (minutes(8), 4)] {
        rig.syncer.run_due(at).await.unwrap();
        assert_eq!(rig.received().await.len(), sent, "at {at}");
    }
    rig.syncer.run_due(minutes(60)).await.unwrap();

    let received = rig.received().await;
    assert_eq!(received.len(), 4);
    assert!(received.iter().all(|r| r.body == received[0].body), "every attempt sends the same payload");
    assert!(received.iter().all(|r| header(r, "x-aigent-sync-id") == Some(run.sync_id.as_str())));
    let deliveries = rig.deliveries().await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, RentRollDeliveryStatus::Delivered);
    assert_eq!(statuses(&deliveries[0]), vec![Some(503), Some(503), Some(503), Some(200)]);
    assert_eq!(deliveries[0].next_attempt_at, None);
}

#[tokio::test]
async fn five_failures_end_the_delivery() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Flat, AuthMode::ApiKey).await.answering(500, 100).await;
    let start = time_format::now();

    rig.syncer.sync_organization(&rig.org, &SyncRun::at(start), start).await.unwrap();
    for minutes in [1, 3, 8, 18, 60, 120] {
        rig.syncer.run_due(start + time::Duration::minutes(minutes)).await.unwrap();
    }

    assert_eq!(rig.received().await.len(), 5);
    let delivery = &rig.deliveries().await[0];
    assert_eq!(delivery.status, RentRollDeliveryStatus::Failed);
    assert_eq!(delivery.failure.as_deref(), Some("retries_exhausted"));
    assert_eq!(delivery.attempts.len(), 5);
}

#[tokio::test]
async fn a_refused_payload_is_sent_once_recorded_and_announced_on_the_bus() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(400, 100).await;
    let pattern = json!({"source": ["doorstep.rentroll"], "detail-type": ["rentroll.delivery_failed"],
        "detail": {"organization_id": [rig.org]}});
    let bus = doorstep_tests::bus_queue::BusQueue::subscribe(&rig.app, "rentroll", &pattern).await;
    let start = time_format::now();

    rig.syncer.sync_organization(&rig.org, &SyncRun::at(start), start).await.unwrap();
    rig.syncer.run_due(start + time::Duration::hours(1)).await.unwrap();

    assert_eq!(rig.received().await.len(), 1, "a 400 is not retried");
    let delivery = &rig.deliveries().await[0];
    assert_eq!(delivery.status, RentRollDeliveryStatus::Failed);
    assert_eq!(delivery.failure.as_deref(), Some("payload_rejected"));
    assert_eq!(statuses(delivery), vec![Some(400)]);
    let pump = Pump::new(&rig.app.services);
    let told = pump
        .until(Duration::from_secs(30), "rentroll.delivery_failed on the bus", || async {
            Some(bus.receive(1).await).filter(|m| !m.is_empty())
        })
        .await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["detail"]["delivery_id"], delivery.delivery_id.as_str());
    assert_eq!(told[0]["detail"]["reason"], "payload_rejected");
    assert_eq!(told[0]["detail"]["partner_status"], 400);
}

#[tokio::test]
async fn refused_credentials_are_not_retried() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::Bearer).await.answering(401, 100).await;
    let start = time_format::now();

    rig.syncer.sync_organization(&rig.org, &SyncRun::at(start), start).await.unwrap();
    rig.syncer.run_due(start + time::Duration::hours(1)).await.unwrap();

    assert_eq!(rig.received().await.len(), 1);
    let delivery = &rig.deliveries().await[0];
    assert_eq!(delivery.status, RentRollDeliveryStatus::Failed);
    assert_eq!(delivery.failure.as_deref(), Some("authentication_failed"));
}

#[tokio::test]
async fn a_429_waits_for_retry_after_and_a_404_alerts_without_a_retry() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await;
    Mock::given(method("POST"))
        .and(path(SYNC_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "600"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&rig.rentsync)
        .await;
    let rig = rig.answering(200, 0).await;
    let start = time_format::now();

    rig.syncer.sync_organization(&rig.org, &SyncRun::at(start), start).await.unwrap();
    let waiting = &rig.deliveries().await[0];
    assert_eq!(waiting.status, RentRollDeliveryStatus::Pending);
    let next = time_format::parse(waiting.next_attempt_at.as_deref().unwrap()).unwrap();
    assert!(next >= start + time::Duration::seconds(600), "RentSync's Retry-After is honoured: {next}");
    // The one-minute schedule's tick before that time sends nothing; the one after it delivers.
    rig.syncer.run_due(start + time::Duration::minutes(2)).await.unwrap();
    assert_eq!(rig.received().await.len(), 1);
    rig.syncer.run_due(start + time::Duration::minutes(11)).await.unwrap();
    let delivered = &rig.deliveries().await[0];
    assert_eq!(delivered.status, RentRollDeliveryStatus::Delivered);
    assert_eq!(statuses(delivered), [Some(429), Some(200)]);

    // A 404 is an alert and is not retried.
    let missing = Rig::new(PayloadFormat::Flat, AuthMode::ApiKey).await.answering(404, 100).await;
    missing.syncer.sync_organization(&missing.org, &SyncRun::at(start), start).await.unwrap();
    missing.syncer.run_due(start + time::Duration::hours(1)).await.unwrap();
    assert_eq!(missing.received().await.len(), 1);
    let failed = &missing.deliveries().await[0];
    assert_eq!(failed.status, RentRollDeliveryStatus::Failed);
    assert_eq!(statuses(failed), [Some(404)]);
}

#[tokio::test]
async fn a_repeated_trigger_of_the_same_sync_sends_nothing_again() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(200, 0).await;
    let triggered_at: OffsetDateTime = time_format::now();
    let run = SyncRun::at(triggered_at);

    rig.syncer.sync_organization(&rig.org, &run, triggered_at).await.unwrap();
    // EventBridge delivers the same scheduled event again, a little later.
    let again = rig.syncer.sync_organization(&rig.org, &run, triggered_at + time::Duration::seconds(30)).await.unwrap();

    assert_eq!(again.started, 0);
    assert_eq!(rig.received().await.len(), 1);
    assert_eq!(rig.deliveries().await.len(), 1);
    // The next day's sync sends again.
    let tomorrow = triggered_at + time::Duration::days(1);
    rig.syncer.sync_organization(&rig.org, &SyncRun::at(tomorrow), tomorrow).await.unwrap();
    assert_eq!(rig.received().await.len(), 2);
}

fn unit_ids(units: &Value) -> Vec<&str> {
    units.as_array().unwrap().iter().map(|u| u["unit_id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn delta_mode_sends_changed_units_and_removals_and_never_an_unchanged_unit() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey)
        .await
        .answering(200, 0)
        .await
        .configure(|s| s.mode = SyncMode::Delta)
        .await;
    let day = |n: i64| time_format::now() + time::Duration::days(n);
    let property = rig.property_id().to_owned();
    let token = rig.token();

    // Nothing was delivered before: every listed unit is new.
    let (_, first) = rig.sync_at(day(0)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(unit_ids(&first[0]["units"]), [rig.unit_id(0), rig.unit_id(1)]);
    assert_eq!(first[0]["removed_units"], json!([]));

    // 101 is deleted, 102 stays as it was, 103 is new.
    let deleted = rig
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/properties/{property}/units/{}", rig.unit_id(0)),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let added = rig.add_unit(&property, "103").await;
    let (_, second) = rig.sync_at(day(1)).await;
    assert_eq!(second.len(), 1);
    assert_eq!(unit_ids(&second[0]["units"]), [added.as_str()], "102 is unchanged and not sent again");
    assert_eq!(
        second[0]["removed_units"],
        json!([{"property_id": property, "unit_id": rig.unit_id(0), "unit_code": "101"}])
    );

    // Nothing changed: nothing is sent.
    let (summary, third) = rig.sync_at(day(2)).await;
    assert!(third.is_empty(), "{third:?}");
    assert_eq!((summary.started, summary.unchanged), (0, 1));

    // A deactivated unit is a removal too; a repriced one is sent again.
    let uri = |id: &str| format!("/api/v1/properties/{property}/units/{id}");
    let off = rig.app.call(Method::PATCH, &uri(&added), Some(&token), Some(&json!({"active": false})), &[]).await;
    assert_eq!(off.status, StatusCode::OK);
    let repriced =
        rig.app.call(Method::PATCH, &uri(rig.unit_id(1)), Some(&token), Some(&json!({"base_rent": 2200})), &[]).await;
    assert_eq!(repriced.status, StatusCode::OK);
    let (_, fourth) = rig.sync_at(day(3)).await;
    assert_eq!(unit_ids(&fourth[0]["units"]), [rig.unit_id(1)]);
    assert_eq!(fourth[0]["units"][0]["base_rent"], json!(2200.0));
    assert_eq!(unit_ids(&fourth[0]["removed_units"]), [added.as_str()]);
}

#[tokio::test]
async fn a_delta_refused_by_rentsync_is_sent_again_by_the_next_sync() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Flat, AuthMode::ApiKey)
        .await
        .answering(400, 1)
        .await
        .configure(|s| s.mode = SyncMode::Delta)
        .await;
    let day = |n: i64| time_format::now() + time::Duration::days(n);

    let (_, refused) = rig.sync_at(day(0)).await;
    assert_eq!(unit_ids(&refused[0]["units"]).len(), 2);
    // The state moves only when a delivery succeeds: the same units go again.
    let (_, again) = rig.sync_at(day(1)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["units"], refused[0]["units"]);
    let (_, after) = rig.sync_at(day(2)).await;
    assert!(after.is_empty(), "delivered once, unchanged since");
}

#[tokio::test]
async fn a_batch_over_the_bound_is_split_into_parts_that_carry_every_unit_once() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey)
        .await
        .answering(200, 0)
        .await
        .configure(|s| {
            s.delivery = DeliveryMode::Batch;
            s.max_body_bytes = 700;
        })
        .await;
    let second = rig.app.create_property(&rig.token(), "Harbour View").await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let mut expected = vec![rig.unit_id(0).to_owned(), rig.unit_id(1).to_owned()];
    for number in ["201", "202", "203"] {
        expected.push(rig.add_unit(&second_id, number).await);
    }
    let now = time_format::now();

    let (summary, bodies) = rig.sync_at(now).await;

    assert!(bodies.len() > 1, "split into parts: {bodies:?}");
    assert_eq!(summary.delivered, bodies.len());
    let requests = rig.received().await;
    assert!(requests.iter().all(|r| r.body.len() <= 700), "every part within the bound");
    let mut carried: Vec<String> = Vec::new();
    for body in &bodies {
        assert_eq!(body["sync_metadata"]["source"], "doorstep");
        for project in body["projects"].as_array().unwrap() {
            assert!(
                [rig.property_id(), second_id.as_str()].contains(&project["property"]["project_id"].as_str().unwrap())
            );
            carried.extend(unit_ids(&project["units"]).into_iter().map(str::to_owned));
        }
    }
    carried.sort();
    expected.sort();
    assert_eq!(carried, expected, "every unit exactly once");
    let deliveries = rig.deliveries().await;
    assert_eq!(deliveries.len(), bodies.len(), "each part is its own delivery");
    let mut parts: Vec<_> = deliveries.iter().map(|d| d.part.unwrap()).collect();
    parts.sort_unstable();
    assert_eq!(parts, (1..=bodies.len() as u32).collect::<Vec<_>>());
    assert!(deliveries.iter().all(|d| d.property_id == rent_roll_sync::BATCH_PROPERTY_ID));
    assert!(deliveries.iter().all(|d| d.status == RentRollDeliveryStatus::Delivered));

    // The same sync triggered again sends no part twice.
    let again = rig.syncer.sync_organization(&rig.org, &SyncRun::at(now), now).await.unwrap();
    assert_eq!(again.started, 0);
    assert_eq!(rig.received().await.len(), requests.len());
}

#[tokio::test]
async fn unit_level_errors_in_rentsyncs_answer_are_recorded_on_the_delivery() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.configure(|s| s.mode = SyncMode::Delta).await;
    let answer = json!({"status": "accepted_with_errors", "errors": [
        {"unit_id": rig.unit_id(0), "field": "base_rent", "message": "below the market floor"}
    ]});
    Mock::given(method("POST"))
        .and(path(SYNC_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(&answer))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&rig.rentsync)
        .await;
    let rig = rig.answering(200, 0).await;
    let day = |n: i64| time_format::now() + time::Duration::days(n);

    rig.sync_at(day(0)).await;

    let delivery = &rig.deliveries().await[0];
    assert_eq!(delivery.status, RentRollDeliveryStatus::Delivered);
    assert_eq!(delivery.unit_errors.len(), 1);
    let error = &delivery.unit_errors[0];
    assert_eq!(error.unit_id.as_deref(), Some(rig.unit_id(0)));
    assert_eq!(error.field.as_deref(), Some("base_rent"));
    assert_eq!(error.message, "below the market floor");
    // The unit RentSync refused is sent again by the next delta; the accepted one is not.
    let (_, next) = rig.sync_at(day(1)).await;
    assert_eq!(unit_ids(&next[0]["units"]), [rig.unit_id(0)]);
}

// ------------------------------------------------------------------ fan-out, checkpoints, run log

/// The test stack's work queue, as a worker sees it.
struct Worker {
    sqs: aws_sdk_sqs::Client,
    url: String,
    syncer: Syncer,
}

impl Worker {
    async fn new(app: &TestApp) -> Self {
        let syncer = doorstep_tests::rent_roll_syncer(&app.services).await;
        let sqs = doorstep_tests::test_sqs(&app.services);
        let url = sqs.get_queue_url().queue_name(doorstep_tests::RENT_ROLL_TEST_QUEUE).send().await.unwrap();
        Self { sqs, url: url.queue_url.unwrap(), syncer }
    }

    /// Every message on the queue now, taken off it, as the SQS event source hands them over.
    async fn take(&self) -> Vec<Value> {
        let mut records = Vec::new();
        loop {
            let received =
                self.sqs.receive_message().queue_url(&self.url).max_number_of_messages(10).send().await.unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return records;
            }
            for message in messages {
                records.push(json!({"messageId": message.message_id(), "body": message.body()}));
                let handle = message.receipt_handle().unwrap_or_default();
                self.sqs.delete_message().queue_url(&self.url).receipt_handle(handle).send().await.unwrap();
            }
        }
    }

    /// One SQS batch through the function; the ids it reported failed.
    async fn handle(&self, records: &[Value]) -> Vec<Value> {
        let answer = self.syncer.handle(json!({"Records": records}), time_format::now()).await.unwrap();
        answer["batchItemFailures"].as_array().cloned().unwrap()
    }

    /// Handles batches of ten until the queue is empty.
    async fn run_until_idle(&self) {
        loop {
            let records = self.take().await;
            if records.is_empty() {
                return;
            }
            for batch in records.chunks(10) {
                assert_eq!(self.handle(batch).await, Vec::<Value>::new());
            }
        }
    }
}

fn body_of(record: &Value) -> Value {
    serde_json::from_str(record["body"].as_str().unwrap()).unwrap()
}

impl Rig {
    /// `count` more active properties (without units), their ids.
    async fn more_properties(&self, count: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..count {
            let property = self.app.create_property(&self.token, &format!("Annex {i}")).await;
            ids.push(property["id"].as_str().unwrap().to_owned());
        }
        ids
    }

    /// RentSync answers POSTs of `property_id` with `status`, the first `times` of them.
    async fn answering_for(&self, property_id: &str, status: u16, times: u64) {
        Mock::given(method("POST"))
            .and(path(SYNC_PATH))
            .and(body_string_contains(property_id))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.rentsync)
            .await;
    }

    /// `POST /api/v1/rent-roll/syncs`: the run's id.
    async fn start_sync(&self, body: Value) -> String {
        let started = self.app.post("/api/v1/rent-roll/syncs", &self.token, &body).await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
        assert_eq!(started.body["data"]["status"], "running");
        started.body["data"]["sync_id"].as_str().unwrap().to_owned()
    }

    async fn sync(&self, sync_id: &str) -> Value {
        let read = self.app.get(&format!("/api/v1/rent-roll/syncs/{sync_id}?page_size=100"), &self.token).await;
        assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
        read.body["data"].clone()
    }

    /// How many POSTs RentSync received for each property id.
    async fn posts_per_property(&self) -> std::collections::BTreeMap<String, usize> {
        let mut posts = std::collections::BTreeMap::new();
        for request in self.received().await {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let id = body["property"]["project_id"].as_str().unwrap().to_owned();
            *posts.entry(id).or_default() += 1;
        }
        posts
    }
}

fn counts(run: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| run[k].as_u64().unwrap_or_else(|| panic!("{k} in {run}"));
    (n("property_count"), n("delivered"), n("failed"), n("retrying"))
}

fn property<'a>(run: &'a Value, property_id: &str) -> &'a Value {
    run["properties"].as_array().unwrap().iter().find(|p| p["property_id"] == property_id).unwrap()
}

#[tokio::test]
async fn a_run_over_several_properties_delivers_each_once_and_announces_its_counts() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await;
    let worker = Worker::new(&rig.app).await;
    worker.run_until_idle().await;
    let others = rig.more_properties(3).await;
    let (retried, refused) = (&others[0], &others[1]);
    rig.answering_for(retried, 503, 1).await;
    rig.answering_for(refused, 400, 100).await;
    let rig = rig.answering(200, 0).await;
    let pattern = json!({"source": ["doorstep.rentroll"], "detail-type": ["rentroll.sync_completed"],
        "detail": {"organization_id": [rig.org]}});
    let bus = doorstep_tests::bus_queue::BusQueue::subscribe(&rig.app, "rrsync", &pattern).await;

    let sync_id = rig.start_sync(json!({})).await;
    worker.run_until_idle().await;

    let posts = rig.posts_per_property().await;
    assert_eq!(posts.len(), 4, "{posts:?}");
    assert!(posts.values().all(|&n| n == 1), "each property once: {posts:?}");
    let run = rig.sync(&sync_id).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(counts(&run), (4, 2, 1, 1));
    let pump = Pump::new(&rig.app.services);
    let told = pump
        .until(Duration::from_secs(30), "rentroll.sync_completed on the bus", || async {
            Some(bus.receive(1).await).filter(|m| !m.is_empty())
        })
        .await;
    assert_eq!(told.len(), 1, "{told:?}");
    let detail = &told[0]["detail"];
    assert_eq!(detail["sync_id"], sync_id.as_str());
    assert_eq!(
        (&detail["property_count"], &detail["delivered"], &detail["failed"], &detail["retrying"]),
        (&json!(4), &json!(2), &json!(1), &json!(1))
    );

    // The retry finishing later moves the run's counts, without a second announcement.
    rig.syncer.run_due(time_format::now() + time::Duration::minutes(2)).await.unwrap();
    let run = rig.sync(&sync_id).await;
    assert_eq!(counts(&run), (4, 3, 1, 0));
    assert_eq!(property(&run, retried)["attempts"], 2);
    assert_eq!(property(&run, retried)["status"], "delivered");
    assert!(bus.receive(1).await.is_empty());
}

#[tokio::test]
async fn the_run_log_shows_each_property_s_figures_newest_run_first() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await;
    let worker = Worker::new(&rig.app).await;
    worker.run_until_idle().await;
    let refused = rig.more_properties(1).await.remove(0);
    rig.answering_for(&refused, 422, 100).await;
    let rig = rig.answering(200, 0).await;
    let first = rig.start_sync(json!({})).await;
    worker.run_until_idle().await;
    let property_id = rig.property["id"].as_str().unwrap();
    // A later run of one property (a new second, a new sync id).
    let later = loop {
        let started = rig.app.post("/api/v1/rent-roll/syncs", &rig.token, &json!({"property_id": property_id})).await;
        if started.status == StatusCode::ACCEPTED {
            break started.body["data"]["sync_id"].as_str().unwrap().to_owned();
        }
        assert_eq!(started.status, StatusCode::CONFLICT, "{:?}", started.body);
        tokio::task::yield_now().await;
    };
    worker.run_until_idle().await;

    let listed = rig.app.get("/api/v1/rent-roll/syncs", &rig.token).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let ids: Vec<_> = listed.body["data"].as_array().unwrap().iter().map(|r| r["sync_id"].clone()).collect();
    assert_eq!(ids, vec![json!(later), json!(first)]);
    let run = rig.sync(&first).await;
    assert_eq!(run["trigger"], "on_demand");
    let delivered = property(&run, property_id);
    let request = rig.received().await.into_iter().find(|r| String::from_utf8_lossy(&r.body).contains(property_id));
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(delivered["unit_count"], 2);
    assert_eq!(delivered["bytes"], request.unwrap().body.len());
    assert_eq!(delivered["partner_status"], 200);
    assert_eq!(delivered["error_class"], Value::Null);
    assert!(delivered["duration_ms"].is_u64());
    let failed = property(&run, &refused);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_class"], "rejected");
    assert_eq!(failed["partner_status"], 422);
    assert_eq!(failed["unit_count"], 0);
    let one = rig.sync(&later).await;
    assert_eq!(one["property_id"], property_id);
    assert_eq!(counts(&one), (1, 1, 0, 0));
}

#[tokio::test]
async fn a_worker_stopped_mid_run_resumes_without_sending_finished_properties_again() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(200, 0).await;
    let worker = Worker::new(&rig.app).await;
    worker.run_until_idle().await;
    rig.more_properties(5).await;

    let sync_id = rig.start_sync(json!({})).await;
    let enumerate = worker.take().await;
    assert_eq!(enumerate.len(), 1);
    assert_eq!(body_of(&enumerate[0])["kind"], "enumerate");
    assert_eq!(worker.handle(&enumerate).await, Vec::<Value>::new());
    let properties = worker.take().await;
    assert_eq!(properties.len(), 6);
    // The worker handles half the messages and stops; SQS then delivers all of them again.
    assert_eq!(worker.handle(&properties[..3]).await, Vec::<Value>::new());
    assert_eq!(rig.received().await.len(), 3);
    assert_eq!(rig.sync(&sync_id).await["status"], "running");
    assert_eq!(worker.handle(&properties).await, Vec::<Value>::new());

    let posts = rig.posts_per_property().await;
    assert_eq!(posts.len(), 6);
    assert!(posts.values().all(|&n| n == 1), "finished properties are not sent again: {posts:?}");
    let run = rig.sync(&sync_id).await;
    assert_eq!(run["status"], "completed");
    assert_eq!(counts(&run), (6, 6, 0, 0));
}

#[tokio::test]
async fn a_duplicate_trigger_enumerates_and_delivers_nothing_twice() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(200, 0).await;
    let worker = Worker::new(&rig.app).await;
    worker.run_until_idle().await;
    rig.more_properties(2).await;

    let sync_id = rig.start_sync(json!({})).await;
    let enumerate = worker.take().await;
    // The enumeration message arrives twice (a redelivery), and so does every property.
    assert_eq!(worker.handle(&enumerate).await, Vec::<Value>::new());
    assert_eq!(worker.handle(&enumerate).await, Vec::<Value>::new());
    let properties = worker.take().await;
    assert_eq!(properties.len(), 3, "an enumerated run queues nothing again");
    assert_eq!(worker.handle(&properties).await, Vec::<Value>::new());
    assert_eq!(worker.handle(&properties).await, Vec::<Value>::new());

    let posts = rig.posts_per_property().await;
    assert_eq!(posts.len(), 3);
    assert!(posts.values().all(|&n| n == 1), "{posts:?}");
    let run = rig.sync(&sync_id).await;
    assert_eq!(counts(&run), (3, 3, 0, 0));
    assert_eq!(run["status"], "completed");
}

#[tokio::test]
async fn a_malformed_work_message_is_reported_as_a_batch_item_failure() {
    let _serial = SERIAL.lock().await;
    let app = app().await;
    let worker = Worker::new(&app).await;
    let records = [
        json!({"messageId": "good", "body": json!({"kind": "enumerate", "organization_id": new_org(), "sync_id": "sync-2026-11-22-02-00-00"}).to_string()}),
        json!({"messageId": "bad", "body": "{\"kind\": \"nothing\"}"}),
    ];
    assert_eq!(worker.handle(&records).await, vec![json!({"itemIdentifier": "bad"})]);
}

#[tokio::test]
async fn a_redriven_delivery_is_sent_again_and_moves_the_run_s_counts() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(400, 1).await;
    let worker = Worker::new(&rig.app).await;
    worker.run_until_idle().await;
    let sync_id = rig.start_sync(json!({})).await;
    worker.run_until_idle().await;
    let run = rig.sync(&sync_id).await;
    assert_eq!(counts(&run), (1, 0, 1, 0));
    let delivery_id = run["properties"][0]["delivery_id"].as_str().unwrap().replace('#', "%23");

    let redriven = rig
        .app
        .post(&format!("/api/v1/rent-roll/syncs/{sync_id}/deliveries/{delivery_id}/redrive"), &rig.token, &json!({}))
        .await;

    assert_eq!(redriven.status, StatusCode::OK, "{:?}", redriven.body);
    assert_eq!(redriven.body["data"]["status"], "delivered");
    assert_eq!(redriven.body["data"]["attempts"], 2);
    let received = rig.received().await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body, "the same payload");
    assert_eq!(counts(&rig.sync(&sync_id).await), (1, 1, 0, 0));
    // A delivered one is not redriven.
    let again = rig
        .app
        .post(&format!("/api/v1/rent-roll/syncs/{sync_id}/deliveries/{delivery_id}/redrive"), &rig.token, &json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
}

#[tokio::test]
async fn the_run_log_is_guarded_by_permission_and_organization() {
    let _serial = SERIAL.lock().await;
    let rig = Rig::new(PayloadFormat::Nested, AuthMode::ApiKey).await.answering(200, 0).await;
    let worker = Worker::new(&rig.app).await;
    worker.run_until_idle().await;
    let sync_id = rig.start_sync(json!({})).await;
    worker.run_until_idle().await;

    let staff = rig.app.token(&rig.org, &["MaintenanceStaff"]);
    assert_eq!(rig.app.get("/api/v1/rent-roll/syncs", &staff).await.status, StatusCode::FORBIDDEN);
    assert_eq!(rig.app.post("/api/v1/rent-roll/syncs", &staff, &json!({})).await.status, StatusCode::FORBIDDEN);
    let manager = rig.app.token(&rig.org, &["PropertyManager"]);
    assert_eq!(rig.app.get(&format!("/api/v1/rent-roll/syncs/{sync_id}"), &manager).await.status, StatusCode::OK);
    let refused = rig.app.post("/api/v1/rent-roll/syncs", &manager, &json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);

    let stranger = rig.app.token(&new_org(), &["OrganizationOwner"]);
    let foreign = rig.app.get(&format!("/api/v1/rent-roll/syncs/{sync_id}"), &stranger).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{:?}", foreign.body);
    let listed = rig.app.get("/api/v1/rent-roll/syncs", &stranger).await;
    assert_eq!(listed.body["data"], json!([]));
    let property_id = rig.property["id"].as_str().unwrap();
    let not_theirs = rig.app.post("/api/v1/rent-roll/syncs", &stranger, &json!({"property_id": property_id})).await;
    assert_eq!(not_theirs.status, StatusCode::NOT_FOUND, "{:?}", not_theirs.body);
    let not_enabled = rig.app.post("/api/v1/rent-roll/syncs", &stranger, &json!({})).await;
    assert_eq!(not_enabled.status, StatusCode::CONFLICT, "{:?}", not_enabled.body);
    let unknown = rig
        .app
        .post(&format!("/api/v1/rent-roll/syncs/{sync_id}/deliveries/nothing/redrive"), &rig.token, &json!({}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    let bad = rig.app.post("/api/v1/rent-roll/syncs", &rig.token, &json!({"property": "x"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
}
