//! The rent-roll sync to RentSync: the sync reads properties and units created through
//! the API from DynamoDB Local and POSTs them to RentSync, played by `wiremock`.
//!
//! The retry index is one partition for every organization, and a retry tick sends
//! whatever is due; tests hold `SERIAL` so that one test's tick never sends another's
//! retries.

use std::time::Duration;

use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{TestApp, app, new_org};
use http::{Method, StatusCode};
use rent_roll_sync::{SyncRun, Syncer};
use serde_json::{Value, json};
use shared::store::rent_roll::{
    AuthMode, DEFAULT_MAX_BODY_BYTES, DeliveryMode, PayloadFormat, RentRollDelivery, RentRollDeliveryStatus,
    RentSyncSettings, SyncMode,
};
use shared::time_format;
use time::OffsetDateTime;
use tokio::sync::Mutex as AsyncMutex;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

static SERIAL: AsyncMutex<()> = AsyncMutex::const_new(());
const SYNC_PATH: &str = "/v1/rent-roll/sync";

/// An organization with one active property holding two units (101 Available at
/// 1500.00, 102 Rented at 2100.00), its RentSync key in Secrets Manager, and RentSync.
struct Rig {
    app: TestApp,
    org: String,
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
            updated_at: time_format::format(time_format::now()),
        };
        app.services.store.rent_roll().save_settings(&settings).await.unwrap();
        let syncer = Syncer::new(&app.services, Duration::from_secs(5)).unwrap();
        Self { app, org, property, units, key, rentsync, syncer }
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
