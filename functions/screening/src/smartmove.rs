//! The SmartMove API client: every endpoint, its exact models and enums.
//!
//! Every call is a `POST` of a JSON body to `/api/smartmove/...` at the host root with
//! the header `x-apiKey`. `application/create` and `application/reportUrl` answer a bare
//! JSON string (a URL), `application/report/status` a bare JSON string such as
//! `"Pending"`; a 400 carries `{"Message": "..."}`. Reads are retried on timeouts,
//! connection failures and 5xx; orders, cancellations and applicant changes are not
//! (they cost money or change state).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::domain::screening::ReportStatus;

/// The only product SmartMove sells through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Product {
    PackageCorePlusEviction,
}

/// The property classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Classification {
    Conventional,
    Subsidized,
}

/// The card brands SmartMove takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CreditCardType {
    Visa,
    Amex,
    Discover,
    Mastercard,
}

/// `OrderRequest`: the body of both create endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRequest {
    #[serde(rename = "Product")]
    pub product: Product,
    #[serde(rename = "Application")]
    pub application: Application,
    #[serde(rename = "Customer")]
    pub customer: Customer,
    #[serde(rename = "Property")]
    pub property: Property,
    #[serde(rename = "CreditCard", skip_serializing_if = "Option::is_none")]
    pub credit_card: Option<CreditCard>,
    #[serde(rename = "RequestParameters")]
    pub request_parameters: RequestParameters,
}

#[derive(Debug, Clone, Serialize)]
pub struct Application {
    #[serde(rename = "Applicants")]
    pub applicants: Vec<String>,
    #[serde(rename = "declineForOpenBankruptcies")]
    pub decline_for_open_bankruptcies: bool,
    #[serde(rename = "openBankruptcyWindow")]
    pub open_bankruptcy_window: u32,
    #[serde(rename = "LandlordPays", skip_serializing_if = "Option::is_none")]
    pub landlord_pays: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    #[serde(rename = "referenceId")]
    pub reference_id: String,
}

/// `Property`: the property and the landlord. Absent fields are left out.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Property {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_street_address_line_one: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_street_address_line_two: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_phone_extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlord_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_fcra_agreement_accepted: Option<bool>,
}

/// The landlord's card. Passed straight through: never stored, never logged; its
/// `Debug` shows only the brand.
#[derive(Clone, Serialize)]
pub struct CreditCard {
    #[serde(rename = "firstName")]
    pub first_name: String,
    #[serde(rename = "lastName")]
    pub last_name: String,
    #[serde(rename = "cardType")]
    pub card_type: CreditCardType,
    #[serde(rename = "cardNumber")]
    pub card_number: String,
    #[serde(rename = "cardSecurity")]
    pub card_security: String,
    #[serde(rename = "expireMonth")]
    pub expire_month: String,
    #[serde(rename = "expireYear")]
    pub expire_year: String,
}

impl fmt::Debug for CreditCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreditCard").field("card_type", &self.card_type).finish_non_exhaustive()
    }
}

/// `RequestParameters`: where and how SmartMove posts status changes back.
#[derive(Clone, Serialize)]
pub struct RequestParameters {
    #[serde(rename = "postbackUri")]
    pub postback_uri: String,
    pub postback_password: String,
    pub postback_username: String,
    #[serde(rename = "referenceId")]
    pub reference_id: String,
    #[serde(rename = "referenceText", skip_serializing_if = "Option::is_none")]
    pub reference_text: Option<String>,
}

impl fmt::Debug for RequestParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParameters")
            .field("postback_uri", &self.postback_uri)
            .field("postback_username", &self.postback_username)
            .field("reference_id", &self.reference_id)
            .finish_non_exhaustive()
    }
}

/// `{applicationId, referenceId}`: details, cancel, reportUrl and report/status.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationRef {
    #[serde(rename = "applicationId")]
    pub application_id: i64,
    #[serde(rename = "referenceId")]
    pub reference_id: String,
}

/// `{applicationId, referenceId, email}`: applicant/add and applicant/delete.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicantRef {
    #[serde(rename = "applicationId")]
    pub application_id: i64,
    #[serde(rename = "referenceId")]
    pub reference_id: String,
    pub email: String,
}

/// `{referenceId, limit, page}`: application/all.
#[derive(Debug, Clone, Serialize)]
pub struct ListRequest {
    #[serde(rename = "referenceId")]
    pub reference_id: String,
    pub limit: u32,
    pub page: u32,
}

/// SmartMove's default page size for `application/all`.
pub const DEFAULT_LIST_LIMIT: u32 = 10;

/// An applicant's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ApplicantStatus {
    NoActivity,
    RequestAccepted,
    RequestDeclined,
    IDMACompleted,
    ReportsRequested,
    ReportsAvailable,
    SupportRequired,
}

/// The credit recommendation, shown by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CreditRecommendation {
    Unavailable,
    Accept,
    LowAccept,
    Conditional,
    Decline,
    Refer,
    Pending,
}

impl CreditRecommendation {
    /// The name of SmartMove's numeric value (`0` Unavailable ... `6` Pending).
    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::Unavailable,
            1 => Self::Accept,
            2 => Self::LowAccept,
            3 => Self::Conditional,
            4 => Self::Decline,
            5 => Self::Refer,
            6 => Self::Pending,
            _ => return None,
        })
    }
}

/// The property as `application/details` and `application/all` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PropertyDetails {
    pub property_id: Option<i64>,
    pub name: Option<String>,
    pub property_identifier: Option<String>,
    pub unit_number: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
}

/// An applicant of `application/details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplicantDetails {
    pub account_id: Option<i64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub email_address: String,
    pub employment_income: Option<f64>,
    pub employment_income_period: Option<i32>,
    pub employment_status: Option<String>,
    pub other_income: Option<f64>,
    pub other_income_period: Option<i32>,
    pub request_created_date: Option<String>,
    pub request_expiration_date: Option<String>,
    pub applicant_status: ApplicantStatus,
    pub assets: Option<f64>,
    pub credit_report: Option<serde_json::Value>,
    pub criminal_records: Option<serde_json::Value>,
    pub eviction_records: Option<serde_json::Value>,
    pub extra_elements: Option<serde_json::Value>,
    pub parsing_errors: Option<serde_json::Value>,
}

/// `application/details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplicationDetails {
    pub application_id: i64,
    pub landlord_pays: bool,
    pub property: Option<PropertyDetails>,
    pub status: String,
    pub applicants: Vec<ApplicantDetails>,
    pub credit_recommendation: i32,
    pub credit_recommendation_policy_text: Option<String>,
    pub selected_bundle: Option<i32>,
}

/// One renter's payment in `application/all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentStatus {
    #[serde(rename = "emailAddress")]
    pub email_address: String,
    #[serde(rename = "didAccept")]
    pub did_accept: Option<bool>,
    #[serde(rename = "orderPaymentId")]
    pub order_payment_id: Option<serde_json::Value>,
}

/// One application of `application/all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplicationSummary {
    pub application_id: i64,
    pub applicants: Vec<String>,
    pub unit_number: Option<String>,
    pub landlord_pays: bool,
    pub property: Option<PropertyDetails>,
    pub status: String,
    pub renter_statuses: Option<serde_json::Value>,
    pub payment_statuses: Option<Vec<PaymentStatus>>,
    pub is_cancellable: bool,
    pub can_add_applicants: bool,
}

/// A 400's body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(rename = "Message", alias = "message")]
    message: Option<String>,
}

/// How a call failed.
#[derive(Debug, thiserror::Error)]
pub enum SmartMoveError {
    /// A 400 with SmartMove's reason (the seed's precondition failures among them).
    #[error("SmartMove refused the request: {0}")]
    Refused(String),
    /// Any other 4xx (a bad API key is a 401).
    #[error("SmartMove answered {0}")]
    Client(u16),
    /// A 5xx, after any retries.
    #[error("SmartMove failed with {0}")]
    Server(u16),
    #[error("SmartMove did not answer in time")]
    Timeout,
    #[error("SmartMove is unreachable")]
    Unreachable,
    /// A 2xx whose body is not what the endpoint answers.
    #[error("SmartMove answered a body this client does not understand")]
    Body,
}

impl From<SmartMoveError> for shared::ApiError {
    fn from(err: SmartMoveError) -> Self {
        let (code, message) = match &err {
            SmartMoveError::Refused(reason) => {
                ("SMARTMOVE_REFUSED", format!("SmartMove refused the request: {reason}"))
            }
            SmartMoveError::Client(status) => {
                ("SMARTMOVE_REJECTED", format!("SmartMove rejected the request ({status})"))
            }
            SmartMoveError::Server(status) => ("SMARTMOVE_UNAVAILABLE", format!("SmartMove failed ({status})")),
            SmartMoveError::Timeout => ("SMARTMOVE_TIMEOUT", "SmartMove did not answer in time".to_owned()),
            SmartMoveError::Unreachable => ("SMARTMOVE_UNAVAILABLE", "SmartMove is unreachable".to_owned()),
            SmartMoveError::Body => ("SMARTMOVE_BAD_RESPONSE", "SmartMove answered something unexpected".to_owned()),
        };
        shared::ApiError::BadGateway { code, message }
    }
}

impl SmartMoveError {
    /// The error with the order's card number and security code taken out of SmartMove's
    /// reason, should the partner quote them: card data is never echoed in an error.
    fn without_card(self, order: &OrderRequest) -> Self {
        match (self, order.credit_card.as_ref()) {
            (SmartMoveError::Refused(reason), Some(card)) => {
                let secrets = [&card.card_number, &card.card_security].into_iter().filter(|s| !s.is_empty());
                SmartMoveError::Refused(
                    secrets.fold(reason, |reason, secret| reason.replace(secret.as_str(), "[redacted]")),
                )
            }
            (other, _) => other,
        }
    }

    fn retryable(&self) -> bool {
        matches!(self, Self::Server(_) | Self::Timeout | Self::Unreachable)
    }
}

/// Timeouts and read retries.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Extra attempts of a read after a retryable failure.
    pub read_retries: u32,
    pub retry_backoff: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            read_retries: 2,
            retry_backoff: Duration::from_millis(200),
        }
    }
}

/// The client, built once per cold start. Its `Debug` never shows the API key.
#[derive(Clone)]
pub struct SmartMove {
    http: reqwest::Client,
    base_url: Arc<str>,
    api_key: Arc<str>,
    limits: Limits,
}

impl fmt::Debug for SmartMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmartMove").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// `text` with every run of 12 or more digits (a card number, whoever's it is) masked.
fn mask_card_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 12 {
            out.push_str("[redacted]");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Whether a call may be repeated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

impl SmartMove {
    /// A client of `base_url` (`https://stage.rentprep.com`, `https://screen.rentprep.com`
    /// or the local sandbox).
    pub fn new(base_url: &str, api_key: &str, limits: Limits) -> Result<Self, reqwest::Error> {
        let http =
            reqwest::Client::builder().connect_timeout(limits.connect_timeout).timeout(limits.timeout).build()?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').into(), api_key: api_key.into(), limits })
    }

    async fn send_once<B: Serialize>(&self, path: &str, body: &B) -> Result<Vec<u8>, SmartMoveError> {
        let response = self
            .http
            .post(format!("{}/api/smartmove/{path}", self.base_url))
            .header("x-apiKey", &*self.api_key)
            .json(body)
            .send()
            .await
            .map_err(|e| if e.is_timeout() { SmartMoveError::Timeout } else { SmartMoveError::Unreachable })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| if e.is_timeout() { SmartMoveError::Timeout } else { SmartMoveError::Unreachable })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let code = status.as_u16();
        tracing::warn!(endpoint = path, status = code, "SmartMove call failed");
        if code == 400 {
            let reason = serde_json::from_slice::<ErrorBody>(&bytes)
                .ok()
                .and_then(|b| b.message)
                .map(|reason| mask_card_numbers(&reason))
                .unwrap_or_else(|| "no reason given".to_owned());
            return Err(SmartMoveError::Refused(reason));
        }
        Err(if status.is_server_error() { SmartMoveError::Server(code) } else { SmartMoveError::Client(code) })
    }

    /// The body of a successful call (retrying a read), as sent.
    async fn call_raw<B: Serialize>(&self, kind: Kind, path: &str, body: &B) -> Result<Vec<u8>, SmartMoveError> {
        let mut attempt = 0;
        loop {
            match self.send_once(path, body).await {
                Err(err) if kind == Kind::Read && err.retryable() && attempt < self.limits.read_retries => {
                    attempt += 1;
                    tracing::info!(endpoint = path, attempt, error = %err, "retrying a SmartMove read");
                    tokio::time::sleep(self.limits.retry_backoff * attempt).await;
                }
                other => return other,
            }
        }
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        kind: Kind,
        path: &str,
        body: &B,
    ) -> Result<T, SmartMoveError> {
        let bytes = self.call_raw(kind, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|_| SmartMoveError::Body)
    }

    /// `application/create`: the link the landlord finishes the order at.
    pub async fn create(&self, order: &OrderRequest) -> Result<String, SmartMoveError> {
        tracing::debug!(?order, "SmartMove application/create");
        self.call(Kind::Write, "application/create", order).await.map_err(|err| err.without_card(order))
    }

    /// `application/create/embedded`: the new application's id.
    pub async fn create_embedded(&self, order: &OrderRequest) -> Result<i64, SmartMoveError> {
        tracing::debug!(?order, "SmartMove application/create/embedded");
        self.call(Kind::Write, "application/create/embedded", order).await.map_err(|err| err.without_card(order))
    }

    pub async fn add_applicant(&self, request: &ApplicantRef) -> Result<(), SmartMoveError> {
        self.call_raw(Kind::Write, "applicant/add", request).await.map(drop)
    }

    pub async fn delete_applicant(&self, request: &ApplicantRef) -> Result<(), SmartMoveError> {
        self.call_raw(Kind::Write, "applicant/delete", request).await.map(drop)
    }

    pub async fn details(&self, request: &ApplicationRef) -> Result<ApplicationDetails, SmartMoveError> {
        self.call(Kind::Read, "application/details", request).await
    }

    /// `application/all`: the customer's applications, newest first.
    pub async fn all(&self, request: &ListRequest) -> Result<Vec<ApplicationSummary>, SmartMoveError> {
        self.call(Kind::Read, "application/all", request).await
    }

    pub async fn cancel(&self, request: &ApplicationRef) -> Result<(), SmartMoveError> {
        self.call_raw(Kind::Write, "application/cancel", request).await.map(drop)
    }

    pub async fn report_url(&self, request: &ApplicationRef) -> Result<String, SmartMoveError> {
        self.call(Kind::Read, "application/reportUrl", request).await
    }

    pub async fn report_status(&self, request: &ApplicationRef) -> Result<ReportStatus, SmartMoveError> {
        let raw: String = self.call(Kind::Read, "application/report/status", request).await?;
        ReportStatus::parse(&raw).ok_or(SmartMoveError::Body)
    }
}

#[cfg(test)]
mod tests {
    use super::mask_card_numbers;

    #[test]
    fn card_numbers_in_a_partner_reason_are_masked_and_other_numbers_kept() {
        assert_eq!(
            mask_card_numbers("Card 4111111111111111 declined for application 12345"),
            "Card [redacted] declined for application 12345"
        );
        assert_eq!(mask_card_numbers("5419543578415880"), "[redacted]");
        assert_eq!(mask_card_numbers("Zip must be 5 digits"), "Zip must be 5 digits");
    }
}
