//! Helpers of the identity tests: accounts in fresh organizations, sign-in from a
//! private source address, and an inbox that receives identity's events.

use doorstep_tests::bus_queue::BusQueue;
use doorstep_tests::relay_pump::Pump;
use doorstep_tests::{TestApp, TestResponse};
use http::{Method, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

/// A fresh, unique email address.
pub fn new_email(label: &str) -> String {
    format!("{label}-{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

/// A source address no other test uses, so per-IP throttling never crosses tests.
pub fn new_ip() -> String {
    let bits = ulid::Ulid::generate().random();
    format!("10.{}.{}.{}", (bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff)
}

/// A POST without a bearer token, from `ip`.
pub async fn post_from(app: &TestApp, uri: &str, body: &Value, ip: &str) -> TestResponse {
    app.call(Method::POST, uri, None, Some(body), &[("x-forwarded-for", ip)]).await
}

/// Registers a new organization whose owner signs in with `email` / [`PASSWORD`];
/// returns the response `data`.
pub async fn register(app: &TestApp, email: &str) -> Value {
    let body = json!({
        "email": email, "password": PASSWORD, "first_name": "Olive", "last_name": "Owner",
        "organization_name": "Owner Estates"
    });
    let response = post_from(app, "/api/v1/identity/register", &body, &new_ip()).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body["data"].clone()
}

pub async fn login(app: &TestApp, email: &str, password: &str, ip: &str) -> TestResponse {
    post_from(app, "/api/v1/identity/login", &json!({"email": email, "password": password}), ip).await
}

/// Signs in and returns `(access_token, refresh_token)`.
pub async fn tokens(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let response = login(app, email, password, &new_ip()).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    let data = &response.body["data"];
    (data["access_token"].as_str().unwrap().to_owned(), data["refresh_token"].as_str().unwrap().to_owned())
}

pub async fn refresh(app: &TestApp, refresh_token: &str) -> TestResponse {
    post_from(app, "/api/v1/identity/refresh", &json!({"refresh_token": refresh_token}), &new_ip()).await
}

/// The payload of a JWT, decoded without verification (to inspect claims).
pub fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(index).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// An SQS queue subscribed (through an EventBridge rule on the stack's bus) to the
/// identity events about one email address.
pub struct Inbox {
    queue: BusQueue,
    /// Identity's mail events reach the bus through the outbox and the events relay.
    pump: Pump,
}

impl Inbox {
    pub async fn for_email(app: &TestApp, email: &str) -> Self {
        let pattern = json!({"source": [identity::EVENT_SOURCE], "detail": {"email": [email]}});
        Self { queue: BusQueue::subscribe(app, "identity", &pattern).await, pump: Pump::new(&app.services) }
    }

    /// Every event received so far: relays what the table's stream holds, then
    /// long-polls briefly for the first one (until a deadline).
    pub async fn events(&self) -> Vec<Value> {
        let mut found = Vec::new();
        let mut wait = 1;
        let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            self.pump.drain().await;
            let events = self.queue.receive(wait).await;
            if events.is_empty() && (!found.is_empty() || tokio::time::Instant::now() >= give_up) {
                return found;
            }
            found.extend(events);
            wait = 0;
        }
    }

    /// The detail of the one event of `detail_type`.
    pub async fn detail(&self, detail_type: &str) -> Value {
        let events = self.events().await;
        let matching: Vec<&Value> = events.iter().filter(|e| e["detail-type"] == detail_type).collect();
        assert_eq!(matching.len(), 1, "expected one {detail_type} event, got {events:?}");
        matching[0]["detail"].clone()
    }
}
