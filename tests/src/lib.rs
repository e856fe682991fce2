//! Test harness: the real routers of every function, behind an in-process stand-in for
//! API Gateway, against the local stack (DynamoDB Local, moto) that `make test` starts.

pub mod bus_queue;
pub mod demo_financial;
pub mod demo_leasing;
pub mod demo_maintenance;
pub mod demo_rentsync;
pub mod figures;
pub mod gateway;
pub mod relay_pump;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use shared::auth::jwt::{Claims, JwtSigner, SigningKeySecret};
use shared::rate_limit::{Clock, Limit, RateLimiter, RateLimits};
use shared::{Services, secrets};
use tower::ServiceExt;

/// The organization that `make dev` seeds, with one demo user per role.
pub const DEMO_ORG_ID: &str = "org_01JD3M00000000000000000001";
/// A second demo organization (owner `owner@other.doorstep.dev`), to show isolation.
pub const OTHER_DEMO_ORG_ID: &str = "org_01JD3M00000000000000000002";

/// The local stack, every function's router and a token signer.
pub struct TestApp {
    pub services: Services,
    /// Routes each request to its function's router, as API Gateway would.
    pub gateway: gateway::Gateway,
    pub signer: JwtSigner,
    /// The current signing key, for tests that forge tokens with it.
    pub signing_key: SigningKeySecret,
}

/// Loads the services exactly as a Lambda cold start does, plus the signing key. Rate
/// limits are set so high that only tests about them (see [`app_with_rate_limits`]) meet them.
pub async fn app() -> TestApp {
    let unlimited = Limit::new(1_000_000, 60);
    let limits = RateLimits { standard: unlimited, premium: unlimited, enterprise: unlimited, anonymous: unlimited };
    app_with_rate_limits(limits, Clock::System).await
}

/// Like [`app`], with the given rate limits and clock.
pub async fn app_with_rate_limits(limits: RateLimits, clock: Clock) -> TestApp {
    // Logs are captured per test and shown when one fails.
    shared::telemetry::init_for_tests();
    let mut services = Services::load()
        .await
        .unwrap_or_else(|e| panic!("cannot reach the local stack ({e}); run the tests with `make test`"));
    services.rate_limiter = RateLimiter::new(services.store.clone(), limits, clock);
    let secret_id = std::env::var("JWT_SIGNING_KEY_SECRET_ID").expect("JWT_SIGNING_KEY_SECRET_ID is set by make test");
    let key: SigningKeySecret =
        secrets::read_json(&services.aws.secrets, &secret_id).await.expect("signing key secret");
    let signer = JwtSigner::new(&key).expect("signing key");
    let gateway = gateway::Gateway::from_workspace(function_routers(&services).await);
    TestApp { services, gateway, signer, signing_key: key }
}

/// Each function's router, keyed by its package name (the name the route table uses).
pub async fn function_routers(services: &Services) -> HashMap<String, Router> {
    let identity = identity::IdentityState::load(services.clone()).await.expect("identity state");
    HashMap::from([
        ("properties".to_owned(), properties::router(services.clone())),
        ("identity".to_owned(), identity::router(identity)),
        ("units".to_owned(), units::router(services.clone())),
        ("tenants".to_owned(), tenants::router(services.clone())),
        ("leases".to_owned(), leases::router(services.clone())),
        ("financial".to_owned(), financial::router(services.clone(), stripe_on_first_use(services))),
        ("maintenance".to_owned(), maintenance::router(services.clone(), attachment_bucket(services))),
        ("events".to_owned(), events::router(services.clone(), test_stream_settings())),
        ("screening".to_owned(), screening::router(screening_state(services, UNREACHABLE_SMARTMOVE))),
        ("smartmove-postback".to_owned(), smartmove_postback::router(services.clone())),
        ("webhooks".to_owned(), webhooks::router(services.clone(), test_webhook_settings()).expect("webhooks router")),
        (
            "rent-roll-sync".to_owned(),
            rent_roll_sync::router(services.clone(), test_rentsync_config(), rent_roll_syncer(services).await),
        ),
    ])
}

/// The queue `make test`'s rent-roll runs go to (created on first use; tests that take
/// messages from it hold their module's lock).
pub const RENT_ROLL_TEST_QUEUE: &str = "doorstep-test-rent-roll-work";

/// The rent-roll syncer the gateway's `rent-roll-sync` function uses: quick POST
/// timeouts, runs queued on [`RENT_ROLL_TEST_QUEUE`].
pub async fn rent_roll_syncer(services: &Services) -> rent_roll_sync::Syncer {
    let sqs = test_sqs(services);
    let url = sqs.create_queue().queue_name(RENT_ROLL_TEST_QUEUE).send().await.expect("create queue").queue_url;
    let queue = rent_roll_sync::WorkQueue::new(sqs, url.expect("queue url"));
    rent_roll_sync::Syncer::new(services, std::time::Duration::from_secs(5)).expect("syncer").with_queue(Some(queue))
}

/// SQS on the stack's moto (the endpoint EventBridge is served on).
pub fn test_sqs(services: &Services) -> aws_sdk_sqs::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE").expect("the stack's env");
    let sdk = &services.aws.sdk_config;
    aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk).endpoint_url(endpoint).build())
}

/// The Stripe signing secret the local stack holds (`STRIPE_WEBHOOK_SECRET_ID`), read as
/// the `financial` function reads it at a cold start; tests sign Stripe events with it.
/// The Stripe signing secret as the function reads it: on the first event.
fn stripe_on_first_use(services: &Services) -> shared::secrets::OnFirstUse<financial::stripe::WebhookSecret> {
    financial::stripe::WebhookSecret::on_first_use(services).expect("STRIPE_WEBHOOK_SECRET_ID is set by make test")
}

pub async fn stripe_secret(services: &Services) -> financial::stripe::WebhookSecret {
    financial::stripe::WebhookSecret::load(services).await.expect("STRIPE_WEBHOOK_SECRET_ID is set by make test")
}

/// Where the gateway's `screening` function sends SmartMove calls: nothing listens
/// there. Tests of SmartMove flows build the router with [`screening_state`] and a
/// stand-in's address.
pub const UNREACHABLE_SMARTMOVE: &str = "http://127.0.0.1:9";

/// The postback URI test orders carry.
pub const TEST_POSTBACK_URI: &str = "http://localhost/webhooks/smartmove";

/// The `screening` function's state with SmartMove at `base_url` (quick timeouts, one
/// read retry).
pub fn screening_state(services: &Services, base_url: &str) -> screening::ScreeningState {
    let limits = screening::smartmove::Limits {
        connect_timeout: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(2),
        read_retries: 1,
        retry_backoff: std::time::Duration::from_millis(20),
    };
    screening::ScreeningState {
        services: services.clone(),
        smartmove: shared::secrets::OnFirstUse::ready(
            screening::smartmove::SmartMove::new(base_url, "test-api-key", limits).expect("client"),
        ),
        postback_uri: TEST_POSTBACK_URI.to_owned(),
    }
}

/// The attachments bucket that `make test` creates in moto (`ATTACHMENTS_BUCKET`).
pub fn attachment_bucket(services: &Services) -> maintenance::AttachmentBucket {
    maintenance::AttachmentBucket::from_env(services).expect("ATTACHMENTS_BUCKET is set by make test")
}

/// Event streams as the stream endpoint serves them, quicker: they stay open for 20 s,
/// poll every 100 ms and hold events back for 500 ms.
pub fn test_stream_settings() -> events::StreamSettings {
    let mut settings =
        events::StreamSettings::new(events::Delivery::Streaming { max: std::time::Duration::from_secs(20) });
    settings.poll = std::time::Duration::from_millis(100);
    settings.settle = std::time::Duration::from_millis(500);
    settings
}

/// Webhooks as the local stack runs them: test subscribers listen on 127.0.0.1.
pub fn test_webhook_settings() -> webhooks::Settings {
    webhooks::Settings::new(webhooks::AddressGuard::new(true))
}

/// The public address test RentSync endpoints resolve to (`https://rentsync.example`).
pub const RENTSYNC_TEST_HOST: &str = "rentsync.example";

/// The RentSync settings API as production configures it (https and public addresses
/// only; [`RENTSYNC_TEST_HOST`] resolves to a public address without DNS), with the
/// secrets under `doorstep/test/rentsync/`.
pub fn test_rentsync_config() -> rent_roll_sync::RentSyncConfig {
    let public = vec!["93.184.215.14".parse().expect("address")];
    rent_roll_sync::RentSyncConfig {
        guard: rent_roll_sync::AddressGuard::new(false).with_host(RENTSYNC_TEST_HOST, public),
        secret_prefix: "doorstep/test/rentsync/".to_owned(),
    }
}

/// A fresh organization id, so tests never see each other's data.
pub fn new_org() -> String {
    shared::domain::ids::new("org")
}

/// Claims of a user of `org_id` with `roles`, valid for 15 minutes.
pub fn claims(config: &shared::config::Config, org_id: &str, roles: &[&str]) -> Claims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Claims {
        sub: shared::domain::ids::new("user"),
        email: Some("owner@example.com".into()),
        org_id: org_id.to_owned(),
        org_roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        permissions: Vec::new(),
        tenant_profile_id: None,
        jti: ulid::Ulid::generate().to_string(),
        iat: now,
        exp: now + 900,
        aud: config.jwt_audience.clone(),
        iss: config.jwt_issuer.clone(),
        scope: None,
        client_id: None,
        plan: None,
    }
}

/// A response with its body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body as sent, for checks of number formatting that `Value` would lose.
    pub text: String,
    /// The body's bytes, for binary bodies (a PDF).
    pub bytes: Vec<u8>,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Reads a router's response.
    pub async fn read(response: axum::response::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        // HTML pages, XML feeds and PDFs are read as bytes and text only.
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let not_json = ["text/html", "application/xml", "application/pdf"].iter().any(|t| content_type.starts_with(t));
        let body =
            if bytes.is_empty() || not_json { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        TestResponse { status, headers, body, text, bytes: bytes.to_vec() }
    }

    /// `error.code` of an error envelope.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// A bearer token for a user of `org_id` with `roles`.
    pub fn token(&self, org_id: &str, roles: &[&str]) -> String {
        self.sign(&claims(&self.services.config, org_id, roles))
    }

    pub fn sign(&self, claims: &Claims) -> String {
        self.signer.sign(claims).expect("sign token")
    }

    /// Sends a request through the router, as API Gateway would hand it over.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let router = self.gateway.router_for(&request);
        let response = router.oneshot(request).await.expect("router is infallible");
        TestResponse::read(response).await
    }

    /// A JSON request with an optional bearer token and extra headers.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(builder.body(body).expect("request")).await
    }

    pub async fn get(&self, uri: &str, token: &str) -> TestResponse {
        self.call(Method::GET, uri, Some(token), None, &[]).await
    }

    pub async fn post(&self, uri: &str, token: &str, body: &Value) -> TestResponse {
        self.call(Method::POST, uri, Some(token), Some(body), &[]).await
    }

    /// Creates a property and returns its `data`.
    pub async fn create_property(&self, token: &str, name: &str) -> Value {
        let response = self.post("/api/v1/properties", token, &property_body(name)).await;
        assert_eq!(response.status, StatusCode::CREATED, "create failed: {:?}", response.body);
        response.body["data"].clone()
    }
}

/// A valid create body.
pub fn property_body(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "type": "residential",
        "address": {"street": "123 Main St", "city": "San Francisco", "state": "CA", "postal_code": "94105", "country": "US"},
        "currency": "USD",
        "total_value": 1200000
    })
}

/// Each HTTP function's part of the OpenAPI document, keyed by its package name: the
/// function that owns each documented operation.
pub fn function_documents() -> Vec<(&'static str, utoipa::openapi::OpenApi)> {
    vec![
        ("properties", properties::openapi()),
        ("identity", identity::openapi()),
        ("units", units::openapi()),
        ("tenants", tenants::openapi()),
        ("leases", leases::openapi()),
        ("financial", financial::openapi()),
        ("rent-roll-sync", rent_roll_sync::openapi()),
        ("maintenance", maintenance::openapi()),
        ("events", events::openapi()),
        ("screening", screening::openapi()),
        ("smartmove-postback", smartmove_postback::openapi()),
        ("webhooks", webhooks::openapi()),
        ("rent-roll-sync", rent_roll_sync::openapi()),
    ]
}

/// The whole API's OpenAPI 3.1 document: the shared skeleton plus every function's paths.
pub fn openapi_document() -> String {
    let mut document = shared::http::openapi::base();
    for (_, part) in function_documents() {
        document.merge(part);
    }
    shared::http::openapi::finish(&mut document);
    let mut text = document.to_pretty_json().expect("OpenAPI serializes");
    text.push('\n');
    text
}
