//! Outbound webhooks: subscriptions through the API, deliveries to a subscriber running
//! in the test (an HTTP server on 127.0.0.1), verified with the Standard Webhooks crate.
//!
//! The retry index is one partition for every organization, and a retry tick sends
//! whatever is due; tests that send deliveries hold `SERIAL` so that one test's tick
//! never sends another's retries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{TestApp, app, new_org, test_webhook_settings};
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::events::DomainEvent;
use shared::time_format;
use tokio::sync::Mutex as AsyncMutex;
use tower::ServiceExt;
use webhooks::{AddressGuard, Deliverer, Settings};

static SERIAL: AsyncMutex<()> = AsyncMutex::const_new(());
const WAIT: Duration = Duration::from_secs(30);

/// One request the subscriber received.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A subscriber: answers each POST with the next status of its script (the last one
/// repeats) and records what it received.
struct Subscriber {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Subscriber {
    async fn start(script: Vec<u16>) -> Self {
        Self::answering_with(script, Vec::new()).await
    }

    /// A subscriber whose every answer also carries `headers`; a header value of `{url}`
    /// is replaced by the subscriber's own URL.
    async fn answering_with(script: Vec<u16>, headers: Vec<(&'static str, &'static str)>) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let answer_headers: Vec<(&'static str, String)> =
            headers.into_iter().map(|(name, value)| (name, value.replace("{url}", &url))).collect();
        let handler = move |headers: HeaderMap, body: String| {
            let log = log.clone();
            let script = script.clone();
            let answer_headers = answer_headers.clone();
            async move {
                let mut log = log.lock().unwrap();
                let status = script.get(log.len()).or(script.last()).copied().unwrap_or(200);
                log.push(Received { headers, body });
                let mut answer = HeaderMap::new();
                for (name, value) in answer_headers {
                    answer.insert(name, value.parse().unwrap());
                }
                (StatusCode::from_u16(status).unwrap(), answer, format!("answer {status}"))
            }
        };
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().route("/hook", axum::routing::post(handler))).await.unwrap();
        });
        Self { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn deliverer(app: &TestApp) -> Deliverer {
    Deliverer::new(&app.services, test_webhook_settings()).unwrap()
}

/// Subscribes `url` to `events`; returns the subscription with its secret.
async fn subscribe(app: &TestApp, token: &str, url: &str, events: &[&str]) -> Value {
    let response = app.post("/api/v1/webhooks", token, &json!({"url": url, "events": events})).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"].clone()
}

/// One organization's owner with `subscriber` subscribed to `events`, a deliverer, and
/// the moment the test starts from.
struct Scene {
    app: TestApp,
    org: String,
    token: String,
    subscriber: Subscriber,
    webhook: Value,
    deliverer: Deliverer,
    now: time::OffsetDateTime,
}

impl Scene {
    async fn subscribed(subscriber: Subscriber, events: &[&str]) -> Self {
        let app = app().await;
        let org = new_org();
        let token = app.token(&org, &["OrganizationOwner"]);
        let webhook = subscribe(&app, &token, &subscriber.url, events).await;
        let deliverer = deliverer(&app);
        Self { app, org, token, subscriber, webhook, deliverer, now: time_format::now() }
    }
}

fn event(org_id: &str, kind: &str, data: Value) -> DomainEvent {
    DomainEvent {
        event_id: shared::domain::ids::new("evt"),
        event: kind.into(),
        timestamp: time_format::format(time_format::now()),
        organization_id: org_id.into(),
        data,
        changed_fields: None,
    }
}

fn verify(secret: &str, received: &Received) -> Result<(), standardwebhooks::WebhookError> {
    standardwebhooks::Webhook::new(secret).unwrap().verify(received.body.as_bytes(), &received.headers)
}

async fn deliveries(app: &TestApp, token: &str, webhook_id: &str) -> Vec<Value> {
    let response = app.get(&format!("/api/v1/webhooks/{webhook_id}/deliveries"), token).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body["data"].as_array().cloned().unwrap()
}

/// The organization's logged events of one type, oldest first.
async fn logged(app: &TestApp, org_id: &str, kind: &str) -> Vec<DomainEvent> {
    let query = shared::store::events::EventQuery {
        types: Some(shared::store::events::TypeFilter::Exact(kind.into())),
        since: None,
    };
    let page = app.services.store.event_log().page(org_id, &query, None, 100).await.unwrap();
    page.items.into_iter().map(|l| l.event).collect()
}

#[tokio::test]
async fn a_write_reaches_the_subscriber_signed_so_the_standard_library_verifies_it() {
    let _serial = SERIAL.lock().await;
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let subscriber = Subscriber::start(vec![200]).await;
    let webhook = subscribe(&app, &token, &subscriber.url, &["property.*"]).await;
    let secret = webhook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    // The secret is shown once: never in a read or a listing.
    let read = app.get(&format!("/api/v1/webhooks/{}", webhook["webhook_id"].as_str().unwrap()), &token).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.body["data"].get("secret").is_none());

    let property = app.create_property(&token, "Webhook House").await;
    let pump = Pump::new(&app.services);
    let created = pump
        .until(WAIT, "property.created", || async { logged(&app, &org, "property.created").await.into_iter().next() })
        .await;
    // What the bus rule hands the delivery function.
    let bus_event = json!({"source": "doorstep.domain", "detail-type": "property.created", "detail": created});
    deliverer(&app).handle(bus_event.clone(), time_format::now()).await.unwrap();
    // A second copy of the bus event (delivery is at least once) sends nothing again.
    deliverer(&app).handle(bus_event, time_format::now()).await.unwrap();

    let received = subscriber.received();
    assert_eq!(received.len(), 1);
    verify(secret, &received[0]).expect("the signature verifies");
    assert_eq!(received[0].headers["webhook-id"], created.event_id.as_str());
    assert!(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &received[0]).is_err());
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["event"], "property.created");
    assert_eq!(body["event_id"], created.event_id.as_str());
    assert_eq!(body["organization_id"], org.as_str());
    assert_eq!(body["webhook_id"], webhook["webhook_id"]);
    assert_eq!(body["data"]["property_id"], property["id"]);
    assert!(body["timestamp"].is_string());

    let log = deliveries(&app, &token, webhook["webhook_id"].as_str().unwrap()).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["response_status"], 200);
    assert_eq!(log[0]["response_body"], "answer 200");
}

#[tokio::test]
async fn a_subscriber_failing_twice_gets_three_attempts_and_one_success() {
    let _serial = SERIAL.lock().await;
    let Scene { app, org, token, subscriber, webhook, deliverer, now } =
        Scene::subscribed(Subscriber::start(vec![500, 500, 200]).await, &["unit.created"]).await;
    let id = webhook["webhook_id"].as_str().unwrap();
    deliverer.on_event(&event(&org, "unit.created", json!({"unit_id": "unit_x"})), now).await.unwrap();
    // Nothing is due before the first wait (5 s, less 10% jitter) has passed.
    assert_eq!(deliverer.run_due(now + time::Duration::seconds(4)).await.unwrap(), 0);
    assert_eq!(deliverer.run_due(now + time::Duration::seconds(6)).await.unwrap(), 1);
    let pending = deliveries(&app, &token, id).await;
    assert_eq!(pending[0]["status"], "pending");
    assert_eq!(pending[0]["attempt_count"], 2);
    assert_eq!(deliverer.run_due(now + time::Duration::minutes(10)).await.unwrap(), 1);

    assert_eq!(subscriber.received().len(), 3);
    let ids: Vec<_> = subscriber.received().iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "webhook-id is stable across retries");
    let log = deliveries(&app, &token, id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "succeeded");
    let statuses: Vec<_> =
        log[0]["attempts"].as_array().unwrap().iter().map(|a| a["response_status"].clone()).collect();
    assert_eq!(statuses, vec![json!(500), json!(500), json!(200)]);
    assert!(log[0]["next_attempt_at"].is_null());
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let _serial = SERIAL.lock().await;
    // A 307 keeps the method: were it followed, the subscriber would receive the POST twice.
    let Scene { app, org, token, subscriber, webhook, deliverer, now } = Scene::subscribed(
        Subscriber::answering_with(vec![307, 200], vec![("location", "{url}")]).await,
        &["unit.created"],
    )
    .await;
    let id = webhook["webhook_id"].as_str().unwrap();
    deliverer.on_event(&event(&org, "unit.created", json!({"unit_id": "unit_x"})), now).await.unwrap();

    assert_eq!(subscriber.received().len(), 1, "the redirect was not followed");
    let pending = deliveries(&app, &token, id).await;
    assert_eq!(pending[0]["status"], "pending");
    assert_eq!(pending[0]["attempts"][0]["response_status"], 307);
    assert_eq!(deliverer.run_due(now + time::Duration::seconds(6)).await.unwrap(), 1);
    assert_eq!(subscriber.received().len(), 2);
    assert_eq!(deliveries(&app, &token, id).await[0]["status"], "succeeded");
}

#[tokio::test]
async fn retry_after_on_503_puts_off_the_next_attempt() {
    let _serial = SERIAL.lock().await;
    let Scene { app, org, token, subscriber, webhook, deliverer, now } = Scene::subscribed(
        Subscriber::answering_with(vec![503, 200], vec![("retry-after", "600")]).await,
        &["unit.created"],
    )
    .await;
    let id = webhook["webhook_id"].as_str().unwrap();
    deliverer.on_event(&event(&org, "unit.created", json!({"unit_id": "unit_x"})), now).await.unwrap();

    // The schedule alone would try again after about 5 s; the endpoint asked for 600 s.
    assert_eq!(deliverer.run_due(now + time::Duration::seconds(6)).await.unwrap(), 0);
    assert_eq!(deliverer.run_due(now + time::Duration::seconds(599)).await.unwrap(), 0);
    assert_eq!(subscriber.received().len(), 1);
    assert_eq!(deliverer.run_due(now + time::Duration::seconds(601)).await.unwrap(), 1);
    assert_eq!(subscriber.received().len(), 2);
    let log = deliveries(&app, &token, id).await;
    assert_eq!(log[0]["status"], "succeeded");
    let statuses: Vec<_> =
        log[0]["attempts"].as_array().unwrap().iter().map(|a| a["response_status"].clone()).collect();
    assert_eq!(statuses, vec![json!(503), json!(200)]);
}

#[tokio::test]
async fn an_endpoint_answering_410_is_disabled_at_once() {
    let _serial = SERIAL.lock().await;
    let Scene { app, org, token, subscriber, webhook, deliverer, now } =
        Scene::subscribed(Subscriber::start(vec![410]).await, &["*"]).await;
    let id = webhook["webhook_id"].as_str().unwrap();
    deliverer.on_event(&event(&org, "tenant.created", json!({})), now).await.unwrap();
    let read = app.get(&format!("/api/v1/webhooks/{id}"), &token).await;
    assert_eq!(read.body["data"]["status"], "disabled");
    assert!(read.body["data"]["disabled_reason"].as_str().unwrap().contains("410"));
    assert_eq!(deliveries(&app, &token, id).await[0]["status"], "failed");
    // No retry is scheduled, and later events are not sent.
    deliverer.on_event(&event(&org, "tenant.created", json!({})), now).await.unwrap();
    assert_eq!(deliverer.run_due(now + time::Duration::days(1)).await.unwrap(), 0);
    assert_eq!(subscriber.received().len(), 1);
    // Re-enabling sends again.
    let enabled = app
        .call(Method::PATCH, &format!("/api/v1/webhooks/{id}"), Some(&token), Some(&json!({"status": "active"})), &[])
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{:?}", enabled.body);
    assert_eq!(enabled.body["data"]["status"], "active");
}

#[tokio::test]
async fn urls_reaching_private_loopback_or_metadata_addresses_are_refused() {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let guard = AddressGuard::new(false).with_host("internal.example", vec!["10.0.0.1".parse().unwrap()]);
    let strict = webhooks::router(app.services.clone(), Settings::new(guard)).unwrap();
    for url in [
        "http://169.254.169.254/",
        "https://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/",
        "https://127.0.0.1/",
        "https://internal.example/hook",
        "https://[::1]/hook",
        "ftp://example.com/",
    ] {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/webhooks")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(json!({"url": url, "events": ["*"]}).to_string()))
            .unwrap();
        let response = doorstep_tests::TestResponse::read(strict.clone().oneshot(request).await.unwrap()).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {:?}", response.body);
        assert_eq!(response.body["error"]["details"][0]["field"], "url", "{url}");
    }
}

#[tokio::test]
async fn deliveries_recheck_the_address_when_they_are_sent() {
    let _serial = SERIAL.lock().await;
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let subscriber = Subscriber::start(vec![200]).await;
    // Saved where private addresses are allowed; sent where they are not (as if DNS had
    // changed to a private address since).
    let webhook = subscribe(&app, &token, &subscriber.url, &["*"]).await;
    let id = webhook["webhook_id"].as_str().unwrap();
    let host_url = subscriber.url.replace("127.0.0.1", "hooks.example");
    let loopback = vec!["127.0.0.1".parse().unwrap()];
    let local = AddressGuard::new(true).with_host("hooks.example", loopback.clone());
    let local_api = webhooks::router(app.services.clone(), Settings::new(local)).unwrap();
    let request = Request::builder()
        .method(Method::PATCH)
        .uri(format!("/api/v1/webhooks/{id}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"url": host_url}).to_string()))
        .unwrap();
    let patched = doorstep_tests::TestResponse::read(local_api.oneshot(request).await.unwrap()).await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    let guard = AddressGuard::new(false).with_host("hooks.example", loopback);
    let strict = Deliverer::new(&app.services, Settings::new(guard)).unwrap();
    let now = time_format::now();
    strict.on_event(&event(&org, "lease.created", json!({})), now).await.unwrap();
    assert!(subscriber.received().is_empty());
    let log = deliveries(&app, &token, id).await;
    assert_eq!(log[0]["status"], "pending");
    assert!(log[0]["attempts"][0]["error"].as_str().unwrap().contains("private, loopback"), "{:?}", log[0]);
    // Leave nothing on the retry index.
    let response = app.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), Some(&token), None, &[]).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(strict.run_due(now + time::Duration::minutes(1)).await.unwrap(), 1);
    assert!(subscriber.received().is_empty());
}

#[tokio::test]
async fn an_organizations_subscription_never_receives_another_organizations_events() {
    let _serial = SERIAL.lock().await;
    let app = app().await;
    let (org_a, org_b) = (new_org(), new_org());
    let (token_a, token_b) = (app.token(&org_a, &["OrganizationOwner"]), app.token(&org_b, &["OrganizationOwner"]));
    let (subscriber_a, subscriber_b) = (Subscriber::start(vec![200]).await, Subscriber::start(vec![200]).await);
    let webhook_a = subscribe(&app, &token_a, &subscriber_a.url, &["*"]).await;
    subscribe(&app, &token_b, &subscriber_b.url, &["*"]).await;
    let deliverer = deliverer(&app);
    deliverer.on_event(&event(&org_b, "property.created", json!({"name": "B's"})), time_format::now()).await.unwrap();
    assert!(subscriber_a.received().is_empty());
    assert_eq!(subscriber_b.received().len(), 1);
    assert!(subscriber_b.received()[0].body.contains(&org_b));
    // Another organization's subscription is not found.
    let id = webhook_a["webhook_id"].as_str().unwrap();
    for uri in [format!("/api/v1/webhooks/{id}"), format!("/api/v1/webhooks/{id}/deliveries")] {
        assert_eq!(app.get(&uri, &token_b).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let replay =
        app.post(&format!("/api/v1/webhooks/{id}/replay"), &token_b, &json!({"since": "2026-01-01T00:00:00Z"})).await;
    assert_eq!(replay.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn replay_sends_again_exactly_the_events_in_the_window() {
    let _serial = SERIAL.lock().await;
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let pump = Pump::new(&app.services);
    let mut bounds = Vec::new();
    for (i, name) in ["Before", "Inside 1", "Inside 2", "After"].into_iter().enumerate() {
        if i == 1 || i == 3 {
            // The previous event is logged (the pump waited for it); the next is not yet.
            bounds.push(time_format::format(time_format::now()));
        }
        app.create_property(&token, name).await;
        pump.until(WAIT, name, || async {
            (logged(&app, &org, "property.created").await.len() == i + 1).then_some(())
        })
        .await;
    }
    let subscriber = Subscriber::start(vec![200]).await;
    let webhook = subscribe(&app, &token, &subscriber.url, &["property.created"]).await;
    let id = webhook["webhook_id"].as_str().unwrap();
    let response = app
        .post(&format!("/api/v1/webhooks/{id}/replay"), &token, &json!({"since": bounds[0], "until": bounds[1]}))
        .await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{:?}", response.body);
    assert_eq!(response.body["data"]["delivery_ids"].as_array().unwrap().len(), 2);
    assert_eq!(deliverer(&app).run_due(time_format::now()).await.unwrap(), 2);

    // Due deliveries go out concurrently: the set is exact, the order is not promised.
    let mut received: Vec<String> = subscriber
        .received()
        .iter()
        .map(|r| {
            verify(webhook["secret"].as_str().unwrap(), r).unwrap();
            serde_json::from_str::<Value>(&r.body).unwrap()["data"]["name"].as_str().unwrap().to_owned()
        })
        .collect();
    received.sort();
    assert_eq!(received, vec!["Inside 1", "Inside 2"]);
}

#[tokio::test]
async fn after_a_rotation_both_secrets_verify_a_delivery() {
    let _serial = SERIAL.lock().await;
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let subscriber = Subscriber::start(vec![200]).await;
    let webhook = subscribe(&app, &token, &subscriber.url, &["*"]).await;
    let id = webhook["webhook_id"].as_str().unwrap();
    let rotated = app.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), &token, &json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let new_secret = rotated.body["data"]["secret"].as_str().unwrap();
    assert_ne!(new_secret, webhook["secret"].as_str().unwrap());
    assert!(rotated.body["data"]["previous_secret_expires_at"].is_string());

    // The test delivery goes out at once.
    let ping = app.post(&format!("/api/v1/webhooks/{id}/test"), &token, &json!({})).await;
    assert_eq!(ping.status, StatusCode::OK, "{:?}", ping.body);
    assert_eq!(ping.body["data"]["status"], "succeeded");
    assert_eq!(ping.body["data"]["event"], "webhook.ping");
    let received = subscriber.received();
    assert_eq!(received.len(), 1);
    verify(webhook["secret"].as_str().unwrap(), &received[0]).expect("the old secret verifies");
    verify(new_secret, &received[0]).expect("the new secret verifies");

    // A redelivery keeps the webhook-id.
    let delivery_id = ping.body["data"]["delivery_id"].as_str().unwrap();
    let again =
        app.post(&format!("/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"), &token, &json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["data"]["attempt_count"], 2);
    let received = subscriber.received();
    assert_eq!(received[1].headers["webhook-id"], received[0].headers["webhook-id"]);
}

#[tokio::test]
async fn filters_by_property_and_changed_fields_keep_unwanted_events_away() {
    let _serial = SERIAL.lock().await;
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let subscriber = Subscriber::start(vec![200]).await;
    let wanted = shared::domain::ids::new("prop");
    let body = json!({"url": subscriber.url, "events": ["property.updated"], "property_ids": [wanted], "changed_fields": ["name"]});
    let response = app.post("/api/v1/webhooks", &token, &body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    let deliverer = deliverer(&app);
    let update = |property: &str, changed: &[&str]| {
        let mut e = event(&org, "property.updated", json!({"property_id": property}));
        e.changed_fields = Some(changed.iter().map(|f| (*f).to_owned()).collect());
        e
    };
    let now = time_format::now();
    deliverer.on_event(&update(&wanted, &["status"]), now).await.unwrap();
    deliverer.on_event(&update(&shared::domain::ids::new("prop"), &["name"]), now).await.unwrap();
    assert!(subscriber.received().is_empty());
    deliverer.on_event(&update(&wanted, &["name", "status"]), now).await.unwrap();
    assert_eq!(subscriber.received().len(), 1);
    assert!(subscriber.received()[0].body.contains(r#""changed_fields":["name","status"]"#));
}

#[tokio::test]
async fn invalid_subscriptions_and_missing_permissions_are_refused() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let bad = app.post("/api/v1/webhooks", &owner, &json!({"url": "http://127.0.0.1/", "events": ["property"]})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["error"]["details"][0]["field"], "events[0]");
    let empty = app.post("/api/v1/webhooks", &owner, &json!({"url": "http://127.0.0.1/", "events": []})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let tenant = app.token(&org, &["Tenant"]);
    let refused = app.post("/api/v1/webhooks", &tenant, &json!({"url": "http://127.0.0.1/", "events": ["*"]})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/webhooks", &tenant).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/webhooks/whk_nope", &owner).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_subscription_failing_for_five_days_is_disabled_and_the_bus_is_told() {
    let _serial = SERIAL.lock().await;
    let Scene { app, org, token, subscriber, webhook, deliverer, now: start } =
        Scene::subscribed(Subscriber::start(vec![503]).await, &["*"]).await;
    let id = webhook["webhook_id"].as_str().unwrap();
    let pattern = json!({"source": ["doorstep.webhooks"], "detail-type": ["webhook.disabled"], "detail": {"organization_id": [org]}});
    let bus = doorstep_tests::bus_queue::BusQueue::subscribe(&app, "webhooks", &pattern).await;
    deliverer.on_event(&event(&org, "property.created", json!({})), start).await.unwrap();
    // Failing for less than 5 days keeps the subscription.
    assert_eq!(deliverer.run_due(start + time::Duration::days(4)).await.unwrap(), 1);
    assert_eq!(app.get(&format!("/api/v1/webhooks/{id}"), &token).await.body["data"]["status"], "active");
    assert_eq!(deliverer.run_due(start + time::Duration::days(5)).await.unwrap(), 1);

    let read = app.get(&format!("/api/v1/webhooks/{id}"), &token).await;
    assert_eq!(read.body["data"]["status"], "disabled");
    assert!(read.body["data"]["disabled_reason"].as_str().unwrap().contains("5 days"));
    let log = deliveries(&app, &token, id).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["attempt_count"], 3);
    assert_eq!(subscriber.received().len(), 3);
    // The announcement was written with the disable; the relay puts it on the bus.
    let pump = Pump::new(&app.services);
    let told = pump
        .until(WAIT, "webhook.disabled on the bus", || async { Some(bus.receive(1).await).filter(|m| !m.is_empty()) })
        .await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["detail"]["webhook_id"], id);
    assert!(told[0]["detail"]["reason"].as_str().unwrap().contains("5 days"));
}

#[tokio::test]
async fn an_oauth_app_subscribes_only_to_events_its_scopes_can_read() {
    let app = app().await;
    let org = new_org();
    let mut claims = doorstep_tests::claims(&app.services.config, &org, &["OrganizationOwner"]);
    claims.scope = Some("read:properties read:maintenance".into());
    claims.client_id = Some("app_webhooks_test".into());
    let token = app.sign(&claims);
    let url = "http://127.0.0.1:9/hook";
    let allowed = app
        .post(
            "/api/v1/webhooks",
            &token,
            &json!({"url": url, "events": ["property.*", "unit.updated", "maintenance.*"]}),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{:?}", allowed.body);
    for events in [json!(["tenant.*"]), json!(["property.created", "payment.received"]), json!(["*"])] {
        let refused = app.post("/api/v1/webhooks", &token, &json!({"url": url, "events": events})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{events}: {:?}", refused.body);
    }
}

#[tokio::test]
async fn an_oauth_app_sees_and_changes_only_subscriptions_its_scopes_can_read() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let url = "http://127.0.0.1:9/hook";
    let payments = subscribe(&app, &owner, url, &["payment.*"]).await;
    let payments = payments["webhook_id"].as_str().unwrap().to_owned();
    let properties = subscribe(&app, &owner, url, &["property.*"]).await;
    let properties = properties["webhook_id"].as_str().unwrap().to_owned();
    let app_token = |scope: &str| {
        let mut claims = doorstep_tests::claims(&app.services.config, &org, &["OrganizationOwner"]);
        claims.scope = Some(scope.into());
        claims.client_id = Some("app_webhooks_visibility".into());
        app.sign(&claims)
    };

    // An app that reads properties lists, reads and changes only the property subscription.
    let reader = app_token("read:properties");
    let listed = app.get("/api/v1/webhooks", &reader).await;
    assert_eq!(listed.status, StatusCode::OK);
    let ids: Vec<&str> =
        listed.body["data"].as_array().unwrap().iter().map(|w| w["webhook_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [properties.as_str()]);
    assert_eq!(app.get(&format!("/api/v1/webhooks/{properties}"), &reader).await.status, StatusCode::OK);
    for (method, suffix) in
        [(Method::GET, ""), (Method::POST, "/rotate-secret"), (Method::GET, "/deliveries"), (Method::DELETE, "")]
    {
        let uri = format!("/api/v1/webhooks/{payments}{suffix}");
        let response = app.call(method.clone(), &uri, Some(&reader), None, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {uri}: {:?}", response.body);
    }

    // An app whose scopes read no events sees no subscription at all.
    let messenger = app_token("write:messages");
    let listed = app.get("/api/v1/webhooks", &messenger).await;
    assert_eq!(listed.body["data"], json!([]));
    let deleted =
        app.call(Method::DELETE, &format!("/api/v1/webhooks/{properties}"), Some(&messenger), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);

    // The owner still has both.
    let listed = app.get("/api/v1/webhooks", &owner).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
}
