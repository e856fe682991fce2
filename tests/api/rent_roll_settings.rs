//! RentSync settings through `/api/v1/integrations/rentsync` (secrets in moto's Secrets
//! Manager, settings in DynamoDB Local), and the auth modes and sync-id header a delivery
//! sends to RentSync, played by `wiremock`.

use std::time::Duration;

use doorstep_tests::{RENTSYNC_TEST_HOST, TestApp, app, new_org};
use http::{Method, StatusCode};
use rent_roll_sync::{AddressGuard, SyncRun, Syncer};
use serde_json::{Value, json};
use shared::store::rent_roll::{
    AuthMode, DEFAULT_MAX_BODY_BYTES, DeliveryMode, OAuthClient, PayloadFormat, RentRollDelivery,
    RentRollDeliveryStatus, RentSyncSettings, SyncMode, SyncSchedule,
};
use shared::time_format;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SETTINGS: &str = "/api/v1/integrations/rentsync";
const SYNC_PATH: &str = "/v1/rent-roll/sync";
const TOKEN_PATH: &str = "/oauth/token";

fn endpoint() -> String {
    format!("https://{RENTSYNC_TEST_HOST}{SYNC_PATH}")
}

fn settings_body(secret: Option<&str>) -> Value {
    let mut auth = json!({"mode": "api_key"});
    if let Some(secret) = secret {
        auth["secret"] = json!(secret);
    }
    json!({
        "enabled": true,
        "endpoint_url": endpoint(),
        "format": "flat",
        "schedule": {"kind": "every_hours", "hours": 6},
        "sync_id_header": "X-RentSync-Run",
        "auth": auth
    })
}

async fn put(
    app: &TestApp,
    uri: &str,
    token: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> doorstep_tests::TestResponse {
    app.call(Method::PUT, uri, Some(token), Some(body), headers).await
}

fn problem_fields(response: &doorstep_tests::TestResponse) -> Vec<String> {
    let details = response.body["error"]["details"].as_array().cloned().unwrap_or_default();
    details.iter().filter_map(|d| d["field"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn settings_round_trip_and_the_secret_stays_in_secrets_manager() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    let key = format!("rs-live-{org}");

    let missing = app.get(SETTINGS, &owner).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);

    let saved = put(&app, SETTINGS, &owner, &settings_body(Some(&key)), &[]).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(saved.header("etag"), Some("\"1\""));
    assert!(!saved.text.contains(&key), "the answer never holds the secret");

    let read = app.get(SETTINGS, &owner).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.text.contains(&key), "the settings never show the secret");
    let data = &read.body["data"];
    assert_eq!(data["enabled"], true);
    assert_eq!(data["endpoint_url"], endpoint());
    assert_eq!(data["format"], "flat");
    assert_eq!(data["mode"], "snapshot");
    assert_eq!(data["delivery"], "per_property");
    assert_eq!(data["max_body_bytes"], DEFAULT_MAX_BODY_BYTES);
    assert_eq!(data["schedule"], json!({"kind": "every_hours", "hours": 6}));
    assert_eq!(data["sync_id_header"], "X-RentSync-Run");
    assert_eq!(data["auth"], json!({"mode": "api_key", "secret_set": true}));

    let secret_id = format!("doorstep/test/rentsync/{org}");
    let stored = shared::secrets::read_string(&app.services.aws.secrets, &secret_id).await.unwrap();
    assert_eq!(stored, key);
    let item = app.services.store.rent_roll().settings(&org).await.unwrap().unwrap();
    assert_eq!(item.secret_id, secret_id);
    assert!(!serde_json::to_string(&item).unwrap().contains(&key), "the table holds only the secret's id");

    // Without a secret the stored one stays; a stale If-Match is refused.
    let mut changed = settings_body(None);
    changed["enabled"] = json!(false);
    let stale = put(&app, SETTINGS, &owner, &changed, &[("if-match", "\"7\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{:?}", stale.body);
    let kept = put(&app, SETTINGS, &owner, &changed, &[("if-match", "\"1\"")]).await;
    assert_eq!(kept.status, StatusCode::OK, "{:?}", kept.body);
    assert_eq!(kept.header("etag"), Some("\"2\""));
    assert_eq!(kept.body["data"]["enabled"], false);
    assert_eq!(kept.body["data"]["auth"]["secret_set"], true);

    // A new secret is a new version of the same secret.
    let rotated = put(&app, SETTINGS, &owner, &settings_body(Some("rs-rotated")), &[]).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    assert_eq!(shared::secrets::read_string(&app.services.aws.secrets, &secret_id).await.unwrap(), "rs-rotated");
}

#[tokio::test]
async fn private_loopback_and_metadata_endpoints_are_refused() {
    let app = app().await;
    let org = new_org();
    let owner = app.token(&org, &["OrganizationOwner"]);
    for url in [
        "https://127.0.0.1/v1/rent-roll/sync",
        "https://10.0.0.8/sync",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/sync",
        "http://rentsync.example/sync",
        "not a url",
    ] {
        let mut body = settings_body(Some("k"));
        body["endpoint_url"] = json!(url);
        let refused = put(&app, SETTINGS, &owner, &body, &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {:?}", refused.body);
        assert_eq!(problem_fields(&refused), vec!["endpoint_url"], "{url}");
    }
    let mut oauth = settings_body(Some("client-secret"));
    oauth["auth"] = json!({"mode": "oauth2_client_credentials", "secret": "s", "client_id": "doorstep",
                           "token_url": "https://169.254.169.254/token"});
    let refused = put(&app, SETTINGS, &owner, &oauth, &[]).await;
    assert_eq!(problem_fields(&refused), vec!["auth.token_url"]);
    let first_without_secret = put(&app, SETTINGS, &owner, &settings_body(None), &[]).await;
    assert_eq!(problem_fields(&first_without_secret), vec!["auth.secret"]);
    assert_eq!(app.get(SETTINGS, &owner).await.status, StatusCode::NOT_FOUND, "nothing was saved");
}

#[tokio::test]
async fn the_settings_need_the_integration_permission() {
    let app = app().await;
    let org = new_org();
    let manager = app.token(&org, &["PropertyManager"]);
    let read = app.get(SETTINGS, &manager).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN, "{:?}", read.body);
    let write = put(&app, SETTINGS, &manager, &settings_body(Some("k")), &[]).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{:?}", write.body);
    assert!(write.body["error"]["message"].as_str().unwrap().contains("integration:write"));
}

#[tokio::test]
async fn property_overrides_belong_to_their_organization() {
    let app = app().await;
    let (org, other) = (new_org(), new_org());
    let owner = app.token(&org, &["OrganizationOwner"]);
    let stranger = app.token(&other, &["OrganizationOwner"]);
    let property = app.create_property(&owner, "Harbor View").await;
    let uri = format!("{SETTINGS}/properties/{}", property["id"].as_str().unwrap());

    let body = json!({"excluded": false, "format": "single", "endpoint_url": endpoint()});
    let saved = put(&app, &uri, &owner, &body, &[]).await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    assert_eq!(saved.body["data"]["format"], "single");
    assert_eq!(app.get(&uri, &owner).await.body["data"]["endpoint_url"], endpoint());

    assert_eq!(app.get(&uri, &stranger).await.status, StatusCode::NOT_FOUND);
    assert_eq!(put(&app, &uri, &stranger, &body, &[]).await.status, StatusCode::NOT_FOUND);
    let stranger_delete = app.call(Method::DELETE, &uri, Some(&stranger), None, &[]).await;
    assert_eq!(stranger_delete.status, StatusCode::NOT_FOUND);

    let deleted = app.call(Method::DELETE, &uri, Some(&owner), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&uri, &owner).await.status, StatusCode::NOT_FOUND);
}

/// An organization with one property holding one unit, its credential in Secrets
/// Manager, and RentSync.
struct Partner {
    app: TestApp,
    org: String,
    property_id: String,
    rentsync: MockServer,
    syncer: Syncer,
}

impl Partner {
    async fn new(auth: AuthMode, secret: &str, oauth: bool, sync_id_header: Option<&str>) -> Self {
        let app = app().await;
        let org = new_org();
        let token = app.token(&org, &["OrganizationOwner"]);
        let property = app.create_property(&token, "Sunset Apartments").await;
        let property_id = property["id"].as_str().unwrap().to_owned();
        let unit = json!({"unit_number": "101", "base_rent": 1500, "bedrooms": 1, "bathrooms": 1});
        let created = app.post(&format!("/api/v1/properties/{property_id}/units"), &token, &unit).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let secret_id = format!("doorstep/test/rentsync/{org}");
        shared::secrets::put_string(&app.services.aws.secrets, &secret_id, secret).await.unwrap();
        let rentsync = MockServer::start().await;
        let settings = RentSyncSettings {
            organization_id: org.clone(),
            enabled: true,
            endpoint_url: format!("{}{SYNC_PATH}", rentsync.uri()),
            format: PayloadFormat::Nested,
            auth,
            secret_id,
            mode: SyncMode::Snapshot,
            delivery: DeliveryMode::PerProperty,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            sync_id_header: sync_id_header.map(str::to_owned),
            oauth: oauth.then(|| OAuthClient {
                token_url: format!("{}{TOKEN_PATH}", rentsync.uri()),
                client_id: "doorstep-client".into(),
                scope: Some("rent-roll:write".into()),
            }),
            schedule: SyncSchedule::default(),
            version: 1,
            updated_at: time_format::format(time_format::now()),
        };
        app.services.store.rent_roll().save_settings(&settings).await.unwrap();
        // RentSync listens on 127.0.0.1, which only the local configuration allows.
        let syncer = Syncer::with_guard(&app.services, Duration::from_secs(5), AddressGuard::new(true)).unwrap();
        Self { app, org, property_id, rentsync, syncer }
    }

    async fn sync(&self, at: time::OffsetDateTime) -> SyncRun {
        let run = SyncRun::at(at);
        self.syncer.sync_organization(&self.org, &run, at).await.unwrap();
        run
    }

    async fn requests_to(&self, wanted: &str) -> Vec<wiremock::Request> {
        let all = self.rentsync.received_requests().await.unwrap_or_default();
        all.into_iter().filter(|r| r.url.path() == wanted).collect()
    }

    async fn deliveries(&self) -> Vec<RentRollDelivery> {
        self.app.services.store.rent_roll().deliveries(&self.org, None, 100).await.unwrap().items
    }
}

fn header_of<'a>(request: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_static_token_is_the_authorization_header_and_the_sync_id_header_is_the_configured_one() {
    let partner = Partner::new(AuthMode::StaticToken, "Token rs-static-1", false, Some("X-RentSync-Run")).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&partner.rentsync).await;

    let run = partner.sync(time_format::now()).await;

    let received = partner.requests_to(SYNC_PATH).await;
    assert_eq!(received.len(), 1);
    assert_eq!(header_of(&received[0], "authorization"), Some("Token rs-static-1"));
    assert_eq!(header_of(&received[0], "x-rentsync-run"), Some(run.sync_id.as_str()));
    assert_eq!(header_of(&received[0], "x-aigent-sync-id"), None);
    assert_eq!(header_of(&received[0], "x-api-key"), None);
}

#[tokio::test]
async fn the_oauth_token_is_cached_across_deliveries_and_fetched_again_once_after_a_401() {
    let partner = Partner::new(AuthMode::OAuth2ClientCredentials, "client-secret-1", true, None).await;
    let basic = format!("Basic {}", base64_of("doorstep-client:client-secret-1"));
    for (token, priority) in [("token-1", 1), ("token-2", 2)] {
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .and(header("authorization", basic.as_str()))
            .and(body_string_contains("grant_type=client_credentials"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600})),
            )
            .up_to_n_times(1)
            .with_priority(priority)
            .mount(&partner.rentsync)
            .await;
    }
    // RentSync accepts token-1 for two POSTs, then has revoked it; token-2 works.
    Mock::given(method("POST"))
        .and(path(SYNC_PATH))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&partner.rentsync)
        .await;
    Mock::given(method("POST"))
        .and(path(SYNC_PATH))
        .and(header("authorization", "Bearer token-2"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&partner.rentsync)
        .await;
    Mock::given(method("POST"))
        .and(path(SYNC_PATH))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(3)
        .mount(&partner.rentsync)
        .await;

    let first = time_format::now();
    partner.sync(first).await;
    partner.sync(first + time::Duration::minutes(30)).await;
    assert_eq!(partner.requests_to(TOKEN_PATH).await.len(), 1, "one token served both syncs");
    let third = partner.sync(first + time::Duration::minutes(57)).await;

    let posts = partner.requests_to(SYNC_PATH).await;
    let auths: Vec<_> = posts.iter().map(|r| header_of(r, "authorization").unwrap_or_default().to_owned()).collect();
    assert_eq!(auths, vec!["Bearer token-1", "Bearer token-1", "Bearer token-1", "Bearer token-2"]);
    assert_eq!(partner.requests_to(TOKEN_PATH).await.len(), 2, "the 401 fetched one new token");
    let delivered = partner.deliveries().await;
    assert_eq!(delivered.len(), 3);
    let third = delivered.iter().find(|d| d.sync_id == third.sync_id).unwrap();
    assert_eq!(third.status, RentRollDeliveryStatus::Delivered);
    assert_eq!(third.attempts.len(), 1);
    assert_eq!(third.attempts[0].partner_status, Some(200));
}

#[tokio::test]
async fn a_second_401_with_a_fresh_token_fails_the_delivery_as_unauthorized() {
    let partner = Partner::new(AuthMode::OAuth2ClientCredentials, "client-secret-2", true, None).await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "t", "expires_in": 3600})))
        .mount(&partner.rentsync)
        .await;
    Mock::given(method("POST"))
        .and(path(SYNC_PATH))
        .respond_with(ResponseTemplate::new(401))
        .mount(&partner.rentsync)
        .await;

    partner.sync(time_format::now()).await;

    assert_eq!(partner.requests_to(SYNC_PATH).await.len(), 2, "the first POST and one with a new token");
    assert_eq!(partner.requests_to(TOKEN_PATH).await.len(), 2);
    let delivery = &partner.deliveries().await[0];
    assert_eq!(delivery.status, RentRollDeliveryStatus::Failed);
    assert_eq!(delivery.failure.as_deref(), Some("authentication_failed"));
}

#[tokio::test]
async fn deliveries_honour_property_overrides_and_refuse_private_endpoints_when_not_local() {
    let partner = Partner::new(AuthMode::ApiKey, "rs-key", false, None).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&partner.rentsync).await;
    let owner = partner.app.token(&partner.org, &["OrganizationOwner"]);
    let uri = format!("{SETTINGS}/properties/{}", partner.property_id);

    let excluded = put(&partner.app, &uri, &owner, &json!({"excluded": true}), &[]).await;
    assert_eq!(excluded.status, StatusCode::OK, "{:?}", excluded.body);
    partner.sync(time_format::now()).await;
    assert!(partner.requests_to(SYNC_PATH).await.is_empty(), "an excluded property is not sent");

    let single = put(&partner.app, &uri, &owner, &json!({"format": "single"}), &[]).await;
    assert_eq!(single.status, StatusCode::OK, "{:?}", single.body);
    partner.sync(time_format::now() + time::Duration::minutes(1)).await;
    let received = partner.requests_to(SYNC_PATH).await;
    assert_eq!(received.len(), 1);
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["units"][0]["unit_code"], "101", "§4.1 objects, one per unit: {body}");

    // The production configuration refuses the loopback endpoint at delivery too.
    let strict = Syncer::with_guard(&partner.app.services, Duration::from_secs(5), AddressGuard::new(false)).unwrap();
    let later = time_format::now() + time::Duration::minutes(2);
    strict.sync_organization(&partner.org, &SyncRun::at(later), later).await.unwrap();
    assert_eq!(partner.requests_to(SYNC_PATH).await.len(), 1, "nothing was sent");
    let refused = partner.deliveries().await.into_iter().find(|d| d.status == RentRollDeliveryStatus::Failed).unwrap();
    assert_eq!(refused.failure.as_deref(), Some("endpoint_refused"));
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
