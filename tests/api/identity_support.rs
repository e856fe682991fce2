//! Helpers of the identity tests: accounts in fresh organizations, sign-in from a
//! private source address, and an inbox that receives identity's events.

use aws_sdk_eventbridge::types::Target;
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
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Inbox {
    pub async fn for_email(app: &TestApp, email: &str) -> Self {
        let sdk = &app.services.aws.sdk_config;
        // moto serves SQS on the same endpoint as EventBridge.
        let endpoint = std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE").expect("the stack's env");
        let sqs =
            aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk).endpoint_url(endpoint).build());
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let name = format!("identity-{}", ulid::Ulid::generate().to_string().to_lowercase());
        let queue_url = sqs.create_queue().queue_name(&name).send().await.expect("create queue").queue_url.unwrap();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let arn = attributes.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
        let bus = &app.services.config.event_bus_name;
        let pattern = json!({"source": [identity::EVENT_SOURCE], "detail": {"email": [email]}});
        events
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("put rule");
        events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus)
            .targets(Target::builder().id("inbox").arn(arn).build().unwrap())
            .send()
            .await
            .expect("put targets");
        Self { sqs, queue_url }
    }

    /// Every event received so far (long-polls briefly for the first one).
    pub async fn events(&self) -> Vec<Value> {
        let mut found = Vec::new();
        let mut wait = 2;
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait)
                .send()
                .await
                .expect("receive");
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return found;
            }
            for message in messages {
                found.push(serde_json::from_str(message.body().unwrap_or("null")).expect("event JSON"));
            }
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
