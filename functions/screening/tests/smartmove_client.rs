//! The SmartMove client against a stand-in that checks the exact JSON and headers of
//! every call and answers with the SmartMove API's own example responses.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use screening::smartmove::*;
use serde_json::{Value, json};
use shared::domain::screening::ReportStatus;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX";

fn client(server: &MockServer) -> SmartMove {
    let limits = Limits {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_millis(500),
        read_retries: 2,
        retry_backoff: Duration::from_millis(10),
    };
    SmartMove::new(&server.uri(), KEY, limits).unwrap()
}

fn on(endpoint: &str, body: Value) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(format!("/api/smartmove/{endpoint}")))
        .and(header("x-apiKey", KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
}

fn card() -> CreditCard {
    CreditCard {
        first_name: "Homer".into(),
        last_name: "Simpson".into(),
        card_type: CreditCardType::Mastercard,
        card_number: "5419543578415880".into(),
        card_security: "554".into(),
        expire_month: "09".into(),
        expire_year: "2022".into(),
    }
}

/// The SmartMove API's example order, as this client's models.
fn example_order(embedded: bool) -> OrderRequest {
    OrderRequest {
        product: Product::PackageCorePlusEviction,
        application: Application {
            applicants: vec!["lisa@example.com".into(), "marge@example.com".into()],
            decline_for_open_bankruptcies: false,
            open_bankruptcy_window: 0,
            landlord_pays: embedded.then_some(true),
        },
        customer: Customer { reference_id: "123".into() },
        property: Property {
            landlord_city: Some("Springfield".into()),
            landlord_first_name: Some("Homer".into()),
            landlord_last_name: Some("Simpson".into()),
            landlord_phone_number: Some("5555555555".into()),
            landlord_state: Some("NY".into()),
            landlord_street_address_line_one: Some("123 Fake Street".into()),
            landlord_zip: Some("12345".into()),
            landlord_email: Some("homer@example.com".into()),
            street: Some("123 Property Street".into()),
            city: Some("Springfield".into()),
            state: Some("NY".into()),
            zip: Some("12345".into()),
            unit_number: Some("4".into()),
            property_name: Some("742 Evergreen Terrace".into()),
            classification: Some(Classification::Conventional),
            is_fcra_agreement_accepted: embedded.then_some(true),
            ..Property::default()
        },
        credit_card: embedded.then(card),
        request_parameters: RequestParameters {
            postback_uri: "http://yoursite.com".into(),
            postback_password: "pw".into(),
            postback_username: "user".into(),
            reference_id: "scr_1".into(),
            reference_text: None,
        },
    }
}

fn example_json(embedded: bool) -> Value {
    let mut order = json!({
        "Product": "PackageCorePlusEviction",
        "Application": {
            "Applicants": ["lisa@example.com", "marge@example.com"],
            "declineForOpenBankruptcies": false,
            "openBankruptcyWindow": 0
        },
        "Customer": {"referenceId": "123"},
        "Property": {
            "LandlordCity": "Springfield",
            "LandlordFirstName": "Homer",
            "LandlordLastName": "Simpson",
            "LandlordPhoneNumber": "5555555555",
            "LandlordState": "NY",
            "LandlordStreetAddressLineOne": "123 Fake Street",
            "LandlordZip": "12345",
            "LandlordEmail": "homer@example.com",
            "Street": "123 Property Street",
            "City": "Springfield",
            "State": "NY",
            "Zip": "12345",
            "UnitNumber": "4",
            "PropertyName": "742 Evergreen Terrace",
            "Classification": "Conventional"
        },
        "RequestParameters": {
            "postbackUri": "http://yoursite.com",
            "postback_password": "pw",
            "postback_username": "user",
            "referenceId": "scr_1"
        }
    });
    if embedded {
        order["Application"]["LandlordPays"] = json!(true);
        order["Property"]["IsFcraAgreementAccepted"] = json!(true);
        order["CreditCard"] = json!({
            "firstName": "Homer", "lastName": "Simpson", "cardType": "mastercard",
            "cardNumber": "5419543578415880", "cardSecurity": "554", "expireMonth": "09", "expireYear": "2022"
        });
    }
    order
}

const LINK: &str = "https://stage.rentprep.com/smartmove/api/create/VVVWUnBaeUdlZzJWR0ZqWjd5MVFOclZnNk9EWjRkVzB6dUkzZ3FTU3A5dz01/WjNNVnJFMFlORFV0ZW04MFQ3dHRUZlVScS92dEwvM1J2N0Q1VERNcmNCMD01";

fn details_example() -> Value {
    let applicant = |first: &str, email: &str, income: i64| {
        json!({
            "AccountId": 0, "FirstName": first, "LastName": "Simpson", "MiddleName": null,
            "EmailAddress": email, "EmploymentIncome": income, "EmploymentIncomePeriod": 1,
            "EmploymentStatus": "Employed", "OtherIncome": 0, "OtherIncomePeriod": 1,
            "RequestCreatedDate": "2017-11-10T14:44:56.79", "RequestExpirationDate": "2018-01-09T14:44:56.79",
            "ApplicantStatus": "NoActivity", "Assets": 0, "CreditReport": null, "CriminalRecords": null,
            "EvictionRecords": null, "ExtraElements": null, "ParsingErrors": null
        })
    };
    json!({
        "ApplicationId": 12345,
        "LandlordPays": true,
        "Property": {
            "PropertyId": 12345, "Name": "742 Evergreen Terrace", "PropertyIdentifier": "123 Property Street",
            "UnitNumber": "4", "Street": "123 Property Street", "City": "Springfield", "State": "NY", "Zip": "12345"
        },
        "Status": "Active",
        "Applicants": [applicant("Lisa", "lisa@example.com", 100), applicant("Marge", "marge@example.com", 12555)],
        "CreditRecommendation": 0,
        "CreditRecommendationPolicyText": "Unavailable",
        "SelectedBundle": 0
    })
}

fn list_example() -> Value {
    let application = |id: i64| {
        json!({
            "ApplicationId": id, "Applicants": ["lisa@example.com"], "UnitNumber": null, "LandlordPays": false,
            "Property": {
                "PropertyId": 12345, "Name": "742 Evergreen Terrace", "PropertyIdentifier": "123 Property Street",
                "UnitNumber": "4", "Street": "123 Property Street", "City": "Springfield", "State": "NY", "Zip": "12345"
            },
            "Status": "InProgress", "RenterStatuses": null,
            "PaymentStatuses": [{"emailAddress": "lisa@example.com", "didAccept": null, "orderPaymentId": null}],
            "IsCancellable": true, "CanAddApplicants": true
        })
    };
    json!([application(23456), application(45678)])
}

#[tokio::test]
async fn create_sends_the_example_order_and_reads_the_link() {
    let server = MockServer::start().await;
    on("application/create", example_json(false))
        .respond_with(ResponseTemplate::new(200).set_body_json(LINK))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(client(&server).create(&example_order(false)).await.unwrap(), LINK);
}

#[tokio::test]
async fn create_embedded_sends_the_card_and_reads_the_application_id() {
    let server = MockServer::start().await;
    on("application/create/embedded", example_json(true))
        .respond_with(ResponseTemplate::new(200).set_body_json(12345))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(client(&server).create_embedded(&example_order(true)).await.unwrap(), 12345);
}

#[tokio::test]
async fn applicant_calls_send_the_application_reference_and_email() {
    let server = MockServer::start().await;
    let body = json!({"applicationId": 12345, "referenceId": "1", "email": "bart@example.com"});
    on("applicant/add", body.clone()).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    on("applicant/delete", body).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let request = ApplicantRef { application_id: 12345, reference_id: "1".into(), email: "bart@example.com".into() };
    let client = client(&server);
    client.add_applicant(&request).await.unwrap();
    client.delete_applicant(&request).await.unwrap();
}

#[tokio::test]
async fn details_parse_the_example_with_applicant_statuses_and_recommendation() {
    let server = MockServer::start().await;
    on("application/details", json!({"applicationId": 12345, "referenceId": "1"}))
        .respond_with(ResponseTemplate::new(200).set_body_json(details_example()))
        .mount(&server)
        .await;
    let details =
        client(&server).details(&ApplicationRef { application_id: 12345, reference_id: "1".into() }).await.unwrap();
    assert_eq!(details.application_id, 12345);
    assert_eq!(details.status, "Active");
    assert_eq!(details.applicants.len(), 2);
    assert_eq!(details.applicants[1].email_address, "marge@example.com");
    assert_eq!(details.applicants[1].employment_income, Some(12555.0));
    assert_eq!(details.applicants[0].applicant_status, ApplicantStatus::NoActivity);
    assert_eq!(CreditRecommendation::from_code(details.credit_recommendation), Some(CreditRecommendation::Unavailable));
}

#[tokio::test]
async fn all_sends_limit_and_page_and_parses_the_list() {
    let server = MockServer::start().await;
    on("application/all", json!({"referenceId": "1", "limit": 10, "page": 1}))
        .respond_with(ResponseTemplate::new(200).set_body_json(list_example()))
        .mount(&server)
        .await;
    let list = client(&server)
        .all(&ListRequest { reference_id: "1".into(), limit: DEFAULT_LIST_LIMIT, page: 1 })
        .await
        .unwrap();
    assert_eq!(list.iter().map(|a| a.application_id).collect::<Vec<_>>(), [23456, 45678]);
    assert!(list[0].is_cancellable && list[0].can_add_applicants);
    assert_eq!(list[0].payment_statuses.as_ref().unwrap()[0].did_accept, None);
}

#[tokio::test]
async fn cancel_report_url_and_report_status() {
    let server = MockServer::start().await;
    let reference = json!({"applicationId": 12345, "referenceId": "111"});
    let url = "https://stage.rentprep.com/smartmove/api/application/report/WVc4ZVNySlJkeUJsSy9GUUFxY0tBzzZzls5jNEMWQ3SjduQitiZz01";
    on("application/cancel", reference.clone()).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    on("application/reportUrl", reference.clone())
        .respond_with(ResponseTemplate::new(200).set_body_json(url))
        .mount(&server)
        .await;
    on("application/report/status", reference)
        .respond_with(ResponseTemplate::new(200).set_body_json("Pending"))
        .mount(&server)
        .await;
    let client = client(&server);
    let reference = ApplicationRef { application_id: 12345, reference_id: "111".into() };
    client.cancel(&reference).await.unwrap();
    assert_eq!(client.report_url(&reference).await.unwrap(), url);
    assert_eq!(client.report_status(&reference).await.unwrap(), ReportStatus::Pending);
}

#[tokio::test]
async fn a_400_carries_smartmoves_message_and_becomes_a_502_with_a_clear_code() {
    let server = MockServer::start().await;
    Mock::given(path("/api/smartmove/applicant/delete"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"Message": "The applicant has already responded"})),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .delete_applicant(&ApplicantRef { application_id: 1, reference_id: "1".into(), email: "a@b.co".into() })
        .await
        .unwrap_err();
    assert!(matches!(&err, SmartMoveError::Refused(m) if m == "The applicant has already responded"), "{err:?}");
    let api: shared::ApiError = err.into();
    assert_eq!((api.status_code().as_u16(), api.code()), (502, "SMARTMOVE_REFUSED"));
}

#[tokio::test]
async fn a_write_is_sent_once_even_when_smartmove_fails() {
    let server = MockServer::start().await;
    Mock::given(path("/api/smartmove/application/create/embedded"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).create_embedded(&example_order(true)).await.unwrap_err();
    assert!(matches!(err, SmartMoveError::Server(503)));
    let api: shared::ApiError = err.into();
    assert_eq!((api.status_code().as_u16(), api.code()), (502, "SMARTMOVE_UNAVAILABLE"));
}

#[tokio::test]
async fn reads_are_retried_after_5xx_and_timeouts() {
    let server = MockServer::start().await;
    Mock::given(path("/api/smartmove/application/report/status"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/smartmove/application/report/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json("Ready").set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/smartmove/application/report/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json("Ready"))
        .expect(1)
        .mount(&server)
        .await;
    let reference = ApplicationRef { application_id: 1, reference_id: "1".into() };
    assert_eq!(client(&server).report_status(&reference).await.unwrap(), ReportStatus::Ready);
}

#[tokio::test]
async fn timeouts_unreachable_hosts_and_other_4xx_are_clean_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/api/smartmove/application/cancel"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    Mock::given(path("/api/smartmove/application/details"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(path("/api/smartmove/application/reportUrl"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    let reference = ApplicationRef { application_id: 1, reference_id: "1".into() };
    let client = client(&server);
    assert!(matches!(client.cancel(&reference).await.unwrap_err(), SmartMoveError::Timeout));
    assert!(matches!(client.details(&reference).await.unwrap_err(), SmartMoveError::Client(401)));
    assert!(matches!(client.report_url(&reference).await.unwrap_err(), SmartMoveError::Body));
    let nowhere = SmartMove::new("http://127.0.0.1:9", KEY, Limits { read_retries: 0, ..Limits::default() }).unwrap();
    let err: shared::ApiError = nowhere.cancel(&reference).await.unwrap_err().into();
    assert_eq!((err.status_code().as_u16(), err.code()), (502, "SMARTMOVE_UNAVAILABLE"));
}

/// Captured log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn card_fields_and_the_api_key_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = MockServer::start().await;
    Mock::given(path("/api/smartmove/application/create/embedded"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"Message": "Card declined"})))
        .mount(&server)
        .await;
    let order = example_order(true);
    let err = client(&server).create_embedded(&order).await.unwrap_err();
    tracing::error!(error = %err, ?order, "order failed");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("application/create/embedded"), "the order was logged: {logs}");
    for secret in ["5419543578415880", "cardSecurity", "card_security", "expire", KEY, "postback_password"] {
        assert!(!logs.contains(secret), "{secret} leaked: {logs}");
    }
    assert!(!format!("{order:?}").contains("5419"));
}
