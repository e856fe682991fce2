//! Tenant screening: the `screening` function against a SmartMove stand-in, and the
//! `smartmove-postback` receiver through the gateway, both on DynamoDB Local.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::log_capture::CapturedLogs;
use axum::Router;
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use doorstep_tests::figures::{ms, percentile};
use doorstep_tests::{TestApp, TestResponse, app, new_org, screening_state};
use futures::StreamExt;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::domain::screening::{ReportStatus, Screening, ScreeningMode, password_digest};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CARD_NUMBER: &str = "5419543578415880";
const REPORT_URL: &str = "https://stage.rentprep.com/smartmove/api/application/report/WVc4ZVNy";

/// A unit of a fresh property, the owner's token, and the screening router pointed at `server`.
struct Setup {
    app: TestApp,
    token: String,
    org: String,
    property_id: String,
    unit_id: String,
    screening: Router,
}

async fn setup(server: &MockServer) -> Setup {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let property_id = app.create_property(&token, "Screened Place").await["id"].as_str().unwrap().to_owned();
    let unit =
        app.post(&format!("/api/v1/properties/{property_id}/units"), &token, &json!({"unit_number": "4B"})).await;
    assert_eq!(unit.status, StatusCode::CREATED, "{:?}", unit.body);
    let unit_id = unit.body["data"]["id"].as_str().unwrap().to_owned();
    let screening = screening::router(screening_state(&app.services, &server.uri()));
    Setup { app, token, org, property_id, unit_id, screening }
}

impl Setup {
    async fn call(&self, method: Method, uri: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> TestResponse {
        let mut builder =
            Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {}", self.token));
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
        TestResponse::read(self.screening.clone().oneshot(request).await.unwrap()).await
    }

    fn order(&self, mode: &str) -> Value {
        let mut order = json!({
            "property_id": self.property_id,
            "unit_id": self.unit_id,
            "applicants": ["Lisa@Example.com", "marge@example.com"],
            "mode": mode,
        });
        if mode == "embedded" {
            order["landlord"] = json!({
                "first_name": "Homer", "last_name": "Simpson", "street_line_one": "123 Fake Street",
                "city": "Springfield", "state": "NY", "zip": "12345", "phone": "5555555555",
                "email": "homer@example.com"
            });
            order["credit_card"] = json!({
                "first_name": "Homer", "last_name": "Simpson", "card_type": "mastercard",
                "card_number": CARD_NUMBER, "card_security": "554", "expire_month": "09", "expire_year": "2030"
            });
            order["fcra_agreement_accepted"] = json!(true);
        }
        order
    }

    async fn order_screening(&self, mode: &str, key: &str) -> TestResponse {
        self.call(Method::POST, "/api/v1/screenings", Some(&self.order(mode)), &[("idempotency-key", key)]).await
    }
}

/// SmartMove's own authorization header: `base64(username):base64(password)`.
fn smartmove_auth(username: &str, password: &str) -> String {
    format!("{}:{}", STANDARD.encode(username), STANDARD.encode(password))
}

/// The authorization SmartMove sends for `order` (the credentials the order carried).
fn order_auth(order: &Value) -> String {
    let parameter = |name: &str| order["RequestParameters"][name].as_str().unwrap().to_owned();
    smartmove_auth(&parameter("postback_username"), &parameter("postback_password"))
}

async fn postback(app: &TestApp, authorization: Option<&str>, body: &Value) -> TestResponse {
    let mut headers = vec![];
    if let Some(authorization) = authorization {
        headers.push(("authorization", authorization));
    }
    app.call(Method::POST, "/webhooks/smartmove", None, Some(body), &headers).await
}

fn postback_body(org: &str, screening_id: &str, application_id: i64, status: &str, text: &str) -> Value {
    json!({
        "applicationId": application_id,
        "customerReferenceId": org,
        "notificationText": text,
        "reportStatus": status,
        "referenceId": screening_id,
    })
}

async fn mount(server: &MockServer, endpoint: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/api/smartmove/{endpoint}")))
        .respond_with(response)
        .mount(server)
        .await;
}

fn details(application_id: i64) -> Value {
    let applicant = |first: &str, email: &str, status: &str| {
        json!({"AccountId": 0, "FirstName": first, "LastName": "Simpson", "MiddleName": null, "EmailAddress": email,
               "EmploymentIncome": 100, "EmploymentIncomePeriod": 1, "EmploymentStatus": "Employed", "OtherIncome": 0,
               "OtherIncomePeriod": 1, "RequestCreatedDate": "2017-11-10T14:44:56.79",
               "RequestExpirationDate": "2018-01-09T14:44:56.79", "ApplicantStatus": status, "Assets": 0,
               "CreditReport": null, "CriminalRecords": null, "EvictionRecords": null, "ExtraElements": null,
               "ParsingErrors": null})
    };
    json!({"ApplicationId": application_id, "LandlordPays": true,
           "Property": {"PropertyId": 1, "Name": "Screened Place", "PropertyIdentifier": "123 Main St", "UnitNumber": "4B",
                        "Street": "123 Main St", "City": "San Francisco", "State": "CA", "Zip": "94105"},
           "Status": "Active",
           "Applicants": [applicant("Lisa", "lisa@example.com", "ReportsAvailable"), applicant("Marge", "marge@example.com", "ReportsAvailable")],
           "CreditRecommendation": 1, "CreditRecommendationPolicyText": "Accept", "SelectedBundle": 0})
}

/// The order SmartMove received last.
async fn last_order(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap();
    let order = requests.iter().rev().find(|r| r.url.path().starts_with("/api/smartmove/application/create")).unwrap();
    assert_eq!(order.headers.get("x-apiKey").unwrap(), "test-api-key");
    serde_json::from_slice(&order.body).unwrap()
}

#[tokio::test]
async fn an_embedded_order_runs_from_order_to_tenants() {
    let server = MockServer::start().await;
    mount(&server, "application/create/embedded", ResponseTemplate::new(200).set_body_json(777_001)).await;
    mount(&server, "application/details", ResponseTemplate::new(200).set_body_json(details(777_001))).await;
    mount(&server, "application/reportUrl", ResponseTemplate::new(200).set_body_json(REPORT_URL)).await;
    mount(&server, "application/report/status", ResponseTemplate::new(200).set_body_json("Ready")).await;
    let s = setup(&server).await;

    let created = s.order_screening("embedded", "order-1").await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert!(!created.text.contains(CARD_NUMBER));
    let screening = &created.body["data"];
    let id = screening["id"].as_str().unwrap();
    assert_eq!((screening["application_id"].as_i64(), screening["status"].as_str()), (Some(777_001), Some("Pending")));

    // The order SmartMove received: the organization as customer, the card passed
    // through, our receiver with fresh credentials, our id as reference.
    let order = last_order(&server).await;
    assert_eq!(order["Product"], "PackageCorePlusEviction");
    assert_eq!(order["Customer"]["referenceId"], s.org.as_str());
    assert_eq!(order["Application"]["Applicants"], json!(["lisa@example.com", "marge@example.com"]));
    assert_eq!(order["Application"]["LandlordPays"], true);
    assert_eq!(order["CreditCard"]["cardNumber"], CARD_NUMBER);
    assert_eq!(order["Property"]["Zip"], "94105");
    assert_eq!(order["Property"]["UnitNumber"], "4B");
    assert_eq!(order["Property"]["IsFcraAgreementAccepted"], true);
    assert_eq!(order["RequestParameters"]["referenceId"], id);
    assert_eq!(order["RequestParameters"]["postbackUri"], doorstep_tests::TEST_POSTBACK_URI);
    let username = order["RequestParameters"]["postback_username"].as_str().unwrap().to_owned();
    let password = order["RequestParameters"]["postback_password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 40);

    // Neither the card nor the postback password is stored.
    let item = s.app.services.store.get_item_consistent(format!("ORG#{}", s.org), format!("SCREENING#{id}")).await;
    let stored = format!("{:?}", item.unwrap().unwrap());
    // The CVC as a value of its own (three digits alone could occur inside a random id).
    assert!(!stored.contains(CARD_NUMBER) && !stored.contains("S(\"554\")") && !stored.contains(&password));
    assert!(!stored.contains("card_security"));

    let auth = smartmove_auth(&username, &password);
    let send = |status: &str, text: &str| postback_body(&s.org, id, 777_001, status, text);
    let accepted =
        postback(&s.app, Some(&auth), &send("InProgress", "lisa@example.com has accepted the request")).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    assert_eq!(accepted.body["data"]["status_changed"], true);
    let again = postback(&s.app, Some(&auth), &send("InProgress", "lisa@example.com has accepted the request")).await;
    assert_eq!((again.status, &again.body["data"]["duplicate"]), (StatusCode::OK, &json!(true)));
    let basic = format!("Basic {}", STANDARD.encode(format!("{username}:{password}")));
    let ready = postback(&s.app, Some(&basic), &send("Ready", "The report is ready")).await;
    assert_eq!(ready.body["data"]["status_changed"], true, "{:?}", ready.body);
    let late = postback(&s.app, Some(&auth), &send("InProgress", "marge@example.com has accepted the request")).await;
    assert_eq!((late.status, &late.body["data"]["status_changed"]), (StatusCode::OK, &json!(false)));

    let read = s.call(Method::GET, &format!("/api/v1/screenings/{id}"), None, &[]).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    let data = &read.body["data"];
    assert_eq!(data["status"], "Ready", "a late InProgress does not move the status back");
    assert_eq!(data["credit_recommendation"], "Accept");
    assert_eq!(data["applicants"][0]["status"], "ReportsAvailable");
    assert_eq!(data["postbacks"].as_array().unwrap().len(), 3, "the duplicate is stored once: {data:?}");

    let url = s.call(Method::GET, &format!("/api/v1/screenings/{id}/report-url"), None, &[]).await;
    assert_eq!((url.status, url.body["data"]["url"].as_str()), (StatusCode::OK, Some(REPORT_URL)));
    let status = s.call(Method::GET, &format!("/api/v1/screenings/{id}/report-status"), None, &[]).await;
    assert_eq!(status.body["data"]["status"], "Ready");

    let converted = s.call(Method::POST, &format!("/api/v1/screenings/{id}/convert"), None, &[]).await;
    assert_eq!(converted.status, StatusCode::OK, "{:?}", converted.body);
    let tenant_ids = converted.body["data"]["tenant_ids"].as_array().unwrap().clone();
    assert_eq!(tenant_ids.len(), 2);
    let tenant = s
        .app
        .get(&format!("/api/v1/properties/{}/tenants/{}", s.property_id, tenant_ids[0].as_str().unwrap()), &s.token)
        .await;
    assert_eq!(
        (tenant.body["data"]["name"].as_str(), tenant.body["data"]["email"].as_str()),
        (Some("Lisa Simpson"), Some("lisa@example.com"))
    );
    let twice = s.call(Method::POST, &format!("/api/v1/screenings/{id}/convert"), None, &[]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_link_order_answers_the_link_and_learns_its_application_from_the_first_postback() {
    let server = MockServer::start().await;
    let link = "https://stage.rentprep.com/smartmove/api/create/VVVWUnBaeUdlZzJWR0ZqWjd5MVFO";
    mount(&server, "application/create", ResponseTemplate::new(200).set_body_json(link)).await;
    let s = setup(&server).await;
    let created = s.order_screening("link", "link-1").await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["data"]["order_link"], link);
    assert_eq!(created.body["data"]["application_id"], Value::Null);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let order = last_order(&server).await;
    assert!(order.get("CreditCard").is_none() && order["Application"].get("LandlordPays").is_none());

    let not_placed = s.call(Method::GET, &format!("/api/v1/screenings/{id}/report-url"), None, &[]).await;
    assert_eq!(not_placed.status, StatusCode::CONFLICT);

    let auth = order_auth(&order);
    let first = postback(&s.app, Some(&auth), &postback_body(&s.org, &id, 555, "Pending", "created")).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let other = postback(&s.app, Some(&auth), &postback_body(&s.org, &id, 556, "Ready", "another application")).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED, "a postback for another application is refused");
    mount(&server, "application/details", ResponseTemplate::new(200).set_body_json(details(555))).await;
    let read = s.call(Method::GET, &format!("/api/v1/screenings/{id}"), None, &[]).await;
    assert_eq!(
        (read.body["data"]["application_id"].as_i64(), read.body["data"]["status"].as_str()),
        (Some(555), Some("Pending"))
    );
}

#[tokio::test]
async fn orders_are_checked_before_anything_is_sent_and_need_a_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let s = setup(&server).await;

    let no_key = s.call(Method::POST, "/api/v1/screenings", Some(&s.order("embedded")), &[]).await;
    assert_eq!(no_key.status, StatusCode::BAD_REQUEST);

    let mut bad = s.order("embedded");
    bad["open_bankruptcy_window"] = json!(5);
    bad["landlord"]["state"] = json!("NYC");
    bad["landlord"]["zip"] = json!("123456");
    bad["landlord"]["first_name"] = json!("x".repeat(51));
    bad["credit_card"]["card_number"] = json!(format!("{CARD_NUMBER}99"));
    bad["credit_card"]["card_type"] = json!("diners");
    let refused = s.call(Method::POST, "/api/v1/screenings", Some(&bad), &[("idempotency-key", "bad-1")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        refused.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    for field in [
        "open_bankruptcy_window",
        "landlord.first_name",
        "landlord.state",
        "landlord.zip",
        "credit_card.card_type",
        "credit_card.card_number",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(!refused.text.contains(CARD_NUMBER), "the card is never echoed");

    let mut wrong_type = s.order("embedded");
    wrong_type["credit_card"] = json!(CARD_NUMBER);
    let refused = s.call(Method::POST, "/api/v1/screenings", Some(&wrong_type), &[("idempotency-key", "bad-2")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!refused.text.contains(CARD_NUMBER), "the card is never echoed: {}", refused.text);

    let mut missing = s.order("embedded");
    missing.as_object_mut().unwrap().remove("credit_card");
    missing["decline_for_open_bankruptcies"] = json!(true);
    let refused = s.call(Method::POST, "/api/v1/screenings", Some(&missing), &[("idempotency-key", "bad-3")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    let mut foreign = s.order("link");
    foreign["unit_id"] = json!(shared::domain::ids::new("unit"));
    let refused = s.call(Method::POST, "/api/v1/screenings", Some(&foreign), &[("idempotency-key", "bad-4")]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_order_retried_with_its_key_is_placed_once() {
    let server = MockServer::start().await;
    Mock::given(path("/api/smartmove/application/create/embedded"))
        .respond_with(ResponseTemplate::new(200).set_body_json(42))
        .expect(1)
        .mount(&server)
        .await;
    let s = setup(&server).await;
    let first = s.order_screening("embedded", "same-key").await;
    let second = s.order_screening("embedded", "same-key").await;
    assert_eq!((first.status, second.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.body["data"]["id"], second.body["data"]["id"]);
}

#[tokio::test]
async fn one_key_places_one_order_even_when_sent_twice_at_once() {
    let server = MockServer::start().await;
    let create = "/api/smartmove/application/create/embedded";
    // The first try fails at SmartMove; the next ones are slow enough to overlap.
    Mock::given(method("POST"))
        .and(path(create))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(create))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(7100)).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let s = setup(&server).await;

    // A failed order frees its key: the retry below places it.
    let failed = s.order_screening("embedded", "one-key").await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    let (a, b) = tokio::join!(s.order_screening("embedded", "one-key"), s.order_screening("embedded", "one-key"));
    let (placed, refused) = if a.status == StatusCode::CREATED { (a, b) } else { (b, a) };
    assert_eq!(placed.status, StatusCode::CREATED, "{:?}", placed.body);
    assert_eq!((refused.status, refused.error_code()), (StatusCode::CONFLICT, "CONFLICT"));
    let orders = server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == create).count();
    assert_eq!(orders, 2, "one failed try and one placed order, never two");

    let again = s.order_screening("embedded", "one-key").await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["data"]["id"], placed.body["data"]["id"]);
    let listed = s.call(Method::GET, "/api/v1/screenings", None, &[]).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn partner_failures_are_502_with_a_code_and_store_nothing() {
    let server = MockServer::start().await;
    mount(&server, "application/create/embedded", ResponseTemplate::new(503)).await;
    mount(
        &server,
        "application/create",
        ResponseTemplate::new(400).set_body_json(json!({"Message": "Invalid property"})),
    )
    .await;
    let s = setup(&server).await;
    let failed = s.order_screening("embedded", "fail-1").await;
    assert_eq!((failed.status, failed.error_code()), (StatusCode::BAD_GATEWAY, "SMARTMOVE_UNAVAILABLE"));
    let refused = s.order_screening("link", "fail-2").await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_GATEWAY, "SMARTMOVE_REFUSED"));
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("Invalid property"));
    let listed = s.call(Method::GET, "/api/v1/screenings", None, &[]).await;
    assert_eq!(listed.body["data"], json!([]));
}

#[tokio::test]
async fn card_data_never_reaches_a_log_or_an_error() {
    // Every span and event of the handler, the SmartMove client and the store.
    let (logs, _capture) = CapturedLogs::start();
    let server = MockServer::start().await;
    // A partner that quotes the card back in its refusal.
    Mock::given(method("POST"))
        .and(path("/api/smartmove/application/create/embedded"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"Message": format!("Card {CARD_NUMBER} with code 554 was declined")})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(&server, "application/create/embedded", ResponseTemplate::new(200).set_body_json(json!(7001))).await;
    let s = setup(&server).await;

    let refused = s.order_screening("embedded", "card-1").await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_GATEWAY, "SMARTMOVE_REFUSED"));
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("was declined"), "{message}");
    assert!(!message.contains(CARD_NUMBER) && !message.contains("554"), "{message}");
    let ordered = s.order_screening("embedded", "card-2").await;
    assert_eq!(ordered.status, StatusCode::CREATED, "{:?}", ordered.body);
    assert!(!ordered.body.to_string().contains(CARD_NUMBER));

    let logged = logs.text();
    assert!(logged.contains("screening ordered"), "the capture sees the handler's logs: {logged}");
    assert!(logged.contains("SmartMove application/create/embedded"), "and the client's debug lines");
    assert!(!logged.contains(CARD_NUMBER), "the card number was logged: {logged}");
    assert!(!logged.contains("cardSecurity") && !logged.contains("card_security"));
    // Nor is the card in what was stored.
    let stored = s.call(Method::GET, "/api/v1/screenings", None, &[]).await;
    assert!(!stored.body.to_string().contains(CARD_NUMBER));
}

#[tokio::test]
async fn applicant_changes_and_cancel_follow_smartmoves_preconditions() {
    let server = MockServer::start().await;
    mount(&server, "application/create/embedded", ResponseTemplate::new(200).set_body_json(9)).await;
    mount(
        &server,
        "applicant/add",
        ResponseTemplate::new(400).set_body_json(json!({"Message": "The landlord pays for this application"})),
    )
    .await;
    mount(&server, "applicant/delete", ResponseTemplate::new(200)).await;
    mount(&server, "application/cancel", ResponseTemplate::new(200)).await;
    let s = setup(&server).await;
    let id = s.order_screening("embedded", "apps-1").await.body["data"]["id"].as_str().unwrap().to_owned();

    let add = s
        .call(
            Method::POST,
            &format!("/api/v1/screenings/{id}/applicants"),
            Some(&json!({"email": "bart@example.com"})),
            &[],
        )
        .await;
    assert_eq!(add.status, StatusCode::CONFLICT);
    assert!(add.body["error"]["message"].as_str().unwrap().contains("The landlord pays"), "{:?}", add.body);
    let removed =
        s.call(Method::DELETE, &format!("/api/v1/screenings/{id}/applicants/marge@example.com"), None, &[]).await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    assert_eq!(removed.body["data"]["applicants"].as_array().unwrap().len(), 1);
    let unknown =
        s.call(Method::DELETE, &format!("/api/v1/screenings/{id}/applicants/nobody@example.com"), None, &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let cancelled = s.call(Method::POST, &format!("/api/v1/screenings/{id}/cancel"), None, &[]).await;
    assert_eq!((cancelled.status, &cancelled.body["data"]["cancelled"]), (StatusCode::OK, &json!(true)));
    let convert = s.call(Method::POST, &format!("/api/v1/screenings/{id}/convert"), None, &[]).await;
    assert_eq!(convert.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn screenings_are_listed_by_filter_and_isolated_per_organization() {
    let server = MockServer::start().await;
    mount(&server, "application/create/embedded", ResponseTemplate::new(200).set_body_json(1)).await;
    let s = setup(&server).await;
    let id = s.order_screening("embedded", "list-1").await.body["data"]["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/screenings?property_id={}&status=Pending", s.property_id);
    let listed = s.call(Method::GET, &uri, None, &[]).await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    let none = s.call(Method::GET, "/api/v1/screenings?status=Ready", None, &[]).await;
    assert_eq!(none.body["data"], json!([]));

    let stranger = app().await.token(&new_org(), &["OrganizationOwner"]);
    let other = s.app.get(&format!("/api/v1/screenings/{id}"), &stranger).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let tenant = s.app.token(&s.org, &["Tenant"]);
    assert_eq!(s.app.get("/api/v1/screenings", &tenant).await.status, StatusCode::FORBIDDEN);
}

/// A screening stored directly, with known postback credentials.
async fn stored_screening(app: &TestApp, org: &str, application_id: i64) -> (String, String) {
    let now = shared::time_format::now();
    let screening = Screening {
        id: shared::domain::ids::new("scr"),
        org_id: org.to_owned(),
        property_id: shared::domain::ids::new("prop"),
        unit_id: shared::domain::ids::new("unit"),
        applicants: vec!["a@example.com".into()],
        mode: ScreeningMode::Embedded,
        landlord_pays: true,
        application_id: Some(application_id),
        order_link: None,
        status: ReportStatus::Pending,
        status_rank: 0,
        cancelled: false,
        postback_username: format!("user-{application_id}"),
        postback_password_sha256: password_digest(&format!("password-{application_id}")),
        tenant_ids: Vec::new(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    app.services.store.screenings().create(&screening, None).await.unwrap();
    (screening.id, smartmove_auth(&format!("user-{application_id}"), &format!("password-{application_id}")))
}

#[tokio::test]
async fn postbacks_without_the_orders_credentials_are_refused_and_store_nothing() {
    let app = app().await;
    let org = new_org();
    let (id, auth) = stored_screening(&app, &org, 31).await;
    let body = postback_body(&org, &id, 31, "Ready", "ready");
    let wrong = smartmove_auth("user-31", "guess");
    for authorization in [None, Some(wrong.as_str()), Some("Bearer x"), Some("!!:??")] {
        assert_eq!(postback(&app, authorization, &body).await.status, StatusCode::UNAUTHORIZED);
    }
    let foreign = postback_body(&new_org(), &id, 31, "Ready", "ready");
    assert_eq!(postback(&app, Some(&auth), &foreign).await.status, StatusCode::UNAUTHORIZED, "another organization");
    let other_app = postback_body(&org, &id, 32, "Ready", "ready");
    assert_eq!(postback(&app, Some(&auth), &other_app).await.status, StatusCode::UNAUTHORIZED, "another application");
    assert!(app.services.store.screenings().history(&org, &id).await.unwrap().is_empty());

    let malformed =
        json!({"applicationId": "x", "customerReferenceId": org, "reportStatus": "Ready", "referenceId": id});
    assert_eq!(postback(&app, Some(&auth), &malformed).await.status, StatusCode::BAD_REQUEST);
    let unknown_status = postback_body(&org, &id, 31, "Done", "x");
    assert_eq!(postback(&app, Some(&auth), &unknown_status).await.status, StatusCode::BAD_REQUEST);
    let request = Request::post("/webhooks/smartmove")
        .header("authorization", &auth)
        .header("content-type", "text/plain")
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let read = app.services.store.screenings().get(&org, &id).await.unwrap().unwrap();
    assert_eq!(read.status, ReportStatus::Pending);
}

/// What one postback of the storm came to: its kind, status, body and latency.
type Outcome = (&'static str, StatusCode, Value, Duration);

/// 2,000 postbacks for 100 screenings, sent 64 at a time: per screening 10 distinct
/// in-order postbacks, 4 duplicates of them, 4 late ones (an earlier status after a
/// later one), 1 with wrong credentials and 1 malformed.
#[tokio::test]
async fn a_postback_storm_loses_nothing_and_never_moves_a_status_back() {
    let app = Arc::new(app().await);
    let org = new_org();
    let mut screenings = Vec::new();
    for n in 0..100 {
        screenings.push(stored_screening(&app, &org, 10_000 + n).await);
    }
    let mut requests: Vec<(Option<String>, Value, &'static str)> = Vec::new();
    for (n, (id, auth)) in screenings.iter().enumerate() {
        let application_id = 10_000 + n as i64;
        let body = |status: &str, text: String| postback_body(&org, id, application_id, status, &text);
        let mut distinct = vec![body("Pending", "order created".into())];
        for k in 0..8 {
            distinct.push(body("InProgress", format!("applicant {k} progressed")));
        }
        distinct.push(body("Ready", "report ready".into()));
        for (k, item) in distinct.iter().enumerate() {
            requests.push((Some(auth.clone()), item.clone(), "valid"));
            if k % 3 == 0 && k < 10 {
                requests.push((Some(auth.clone()), item.clone(), "duplicate"));
            }
        }
        for k in 0..4 {
            let status = if k % 2 == 0 { "InProgress" } else { "Pending" };
            requests.push((Some(auth.clone()), body(status, format!("late notice {k}")), "late"));
        }
        requests.push((Some(smartmove_auth("intruder", "nope")), body("Ready", "forged".into()), "forged"));
        requests.push((Some(auth.clone()), json!({"applicationId": application_id, "referenceId": id}), "malformed"));
    }
    assert_eq!(requests.len(), 2_000);
    // Deterministic shuffle: late notices and duplicates arrive anywhere in the storm.
    let mut order: Vec<usize> = (0..requests.len()).collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..order.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }

    // A watcher reads every screening's status during the storm: it never goes back.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (app, org, done) = (app.clone(), org.clone(), done.clone());
        let ids: Vec<String> = screenings.iter().map(|(id, _)| id.clone()).collect();
        tokio::spawn(async move {
            let mut seen = vec![0u8; ids.len()];
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                for (i, id) in ids.iter().enumerate().step_by(7) {
                    let rank = app.services.store.screenings().get(&org, id).await.unwrap().unwrap().status_rank;
                    assert!(rank >= seen[i], "screening {id} went from rank {} back to {rank}", seen[i]);
                    seen[i] = rank;
                    reads += 1;
                }
            }
            reads
        })
    };

    let started = Instant::now();
    let results: Vec<Outcome> = futures::stream::iter(order.into_iter().map(|i| {
        let app = app.clone();
        let (auth, body, kind) = requests[i].clone();
        async move {
            let sent = Instant::now();
            let response = postback(&app, auth.as_deref(), &body).await;
            (kind, response.status, response.body, sent.elapsed())
        }
    }))
    .buffer_unordered(64)
    .collect()
    .await;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let reads = watcher.await.unwrap();

    let count = |f: &dyn Fn(&Outcome) -> bool| results.iter().filter(|r| f(r)).count();
    assert_eq!(count(&|r| r.1.is_server_error()), 0, "no 5xx");
    assert_eq!(count(&|r| r.0 == "forged" && r.1 == StatusCode::UNAUTHORIZED), 100);
    assert_eq!(count(&|r| r.0 == "malformed" && r.1 == StatusCode::BAD_REQUEST), 100);
    let accepted = count(&|r| r.1 == StatusCode::OK);
    assert_eq!(accepted, 1_800);
    let duplicates = count(&|r| r.1 == StatusCode::OK && r.2["data"]["duplicate"] == true);
    assert_eq!(duplicates, 400, "every repeated postback is recognised once");

    for (id, _) in &screenings {
        let history = app.services.store.screenings().history(&org, id).await.unwrap();
        assert_eq!(history.len(), 14, "every distinct postback of {id} stored exactly once");
        let advanced: Vec<u8> = history.iter().filter(|e| e.advanced).map(|e| e.report_status.rank()).collect();
        let mut distinct = advanced.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), advanced.len(), "each rank is reached once: {history:?}");
        let screening = app.services.store.screenings().get(&org, id).await.unwrap().unwrap();
        assert_eq!(screening.status, ReportStatus::Ready);
    }
    let mut latencies: Vec<Duration> = results.iter().map(|r| r.3).collect();
    println!(
        "postback storm: {} postbacks in {:.2} s = {:.0}/s, p50 {}, p99 {} (64 concurrent; {reads} status reads during it)",
        results.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&mut latencies, 0.5)),
        ms(percentile(&mut latencies, 0.99)),
    );
}

/// An `events/<function>/<name>.json` fixture with its placeholders filled, as the
/// Lambda runtime would deliver it.
fn fixture(function: &str, name: &str, fills: &[(&str, &str)]) -> Request<Body> {
    let path = format!("{}/../events/{function}/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut event = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (placeholder, value) in fills {
        event = event.replace(placeholder, value);
    }
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    Request::from_parts(parts, Body::from(body.to_vec()))
}

#[tokio::test]
async fn the_screening_and_postback_fixtures_run_through_lambda_http() {
    let server = MockServer::start().await;
    mount(&server, "application/create/embedded", ResponseTemplate::new(200).set_body_json(4242)).await;
    mount(&server, "application/details", ResponseTemplate::new(200).set_body_json(details(4242))).await;
    mount(&server, "application/reportUrl", ResponseTemplate::new(200).set_body_json(REPORT_URL)).await;
    let s = setup(&server).await;
    let ids = [("__TOKEN__", s.token.as_str()), ("__PROPERTY_ID__", &s.property_id), ("__UNIT_ID__", &s.unit_id)];
    let run = |request: Request<Body>| async {
        TestResponse::read(s.screening.clone().oneshot(request).await.unwrap()).await
    };
    let created = run(fixture("screening", "create", &ids)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let order = last_order(&server).await;
    let auth = order_auth(&order);
    let postback_fills = [
        ("__APPLICATION_ID__", "4242"),
        ("__ORG_ID__", s.org.as_str()),
        ("__SCREENING_ID__", id.as_str()),
        ("__POSTBACK_AUTHORIZATION__", auth.as_str()),
    ];
    for (name, changed) in [("accepted", true), ("ready", true), ("late-in-progress", false)] {
        let response = s.app.send(fixture("smartmove-postback", name, &postback_fills)).await;
        assert_eq!(response.status, StatusCode::OK, "{name}: {:?}", response.body);
        assert_eq!(response.body["data"]["status_changed"], changed, "{name}");
    }
    let with_id = [("__TOKEN__", s.token.as_str()), ("__SCREENING_ID__", id.as_str())];
    let read = run(fixture("screening", "get", &with_id)).await;
    assert_eq!((read.status, read.body["data"]["status"].as_str()), (StatusCode::OK, Some("Ready")));
    let url = run(fixture("screening", "report-url", &with_id)).await;
    assert_eq!(url.body["data"]["url"], REPORT_URL);
    let listed = run(fixture("screening", "list", &with_id)).await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
}
