//! The postback handler: parse → authenticate → record → answer.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use shared::domain::ids::ScreeningId;
use shared::domain::screening::{PostbackEntry, ReportStatus, password_digest};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::store::screenings::PostbackRecorded;
use shared::{ApiError, Services, time_format};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// A postback as SmartMove sends it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Postback {
    #[serde(rename = "applicationId")]
    pub application_id: i64,
    /// The organization (the order's `Customer.referenceId`).
    #[serde(rename = "customerReferenceId")]
    pub customer_reference_id: String,
    #[serde(rename = "notificationText")]
    pub notification_text: Option<String>,
    #[serde(rename = "reportStatus")]
    pub report_status: ReportStatus,
    /// Our screening id (the order's `RequestParameters.referenceId`).
    #[serde(rename = "referenceId")]
    pub reference_id: Option<String>,
    #[serde(rename = "referenceText")]
    pub reference_text: Option<String>,
}

/// What the receiver did with a postback.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    pub screening_id: String,
    /// The postback was received before; nothing changed.
    pub duplicate: bool,
    /// It moved the screening's status.
    pub status_changed: bool,
}

fn unauthorized() -> ApiError {
    ApiError::AuthenticationFailed("The postback's credentials do not match an order")
}

/// The credentials of `Authorization`: SmartMove's `base64(username):base64(password)`,
/// or standard `Basic base64(username:password)`.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let decode = |part: &str| String::from_utf8(STANDARD.decode(part.trim()).ok()?).ok();
    if let Some((scheme, encoded)) = value.split_once(' ')
        && scheme.eq_ignore_ascii_case("basic")
    {
        let (username, password) = decode(encoded)?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned()))?;
        return Some((username, password));
    }
    let (username, password) = value.split_once(':')?;
    Some((decode(username)?, decode(password)?))
}

/// Receive a SmartMove postback.
///
/// Authenticated with the order's own credentials (`Authorization:
/// base64(username):base64(password)` as SmartMove sends it, or `Basic`). The same
/// postback twice is stored once; the status only moves forward.
#[utoipa::path(post, path = "/webhooks/smartmove", operation_id = "receiveSmartMovePostback", tag = "screening",
    request_body = Postback,
    security(("smartmove_postback" = [])),
    responses(
        (status = 200, description = "Recorded (or a duplicate)", body = SuccessEnvelope<Receipt>),
        (status = 400, description = "Malformed postback", body = ErrorEnvelope),
        (status = 401, description = "Missing, unknown or wrong credentials, or another order's application; nothing is stored", body = ErrorEnvelope),
        (status = 415, description = "Not JSON", body = ErrorEnvelope),
    ))]
pub async fn receive(
    State(services): State<Services>,
    headers: HeaderMap,
    body: Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let body = body.accept()?;
    let postback: Postback = serde_json::from_value(body.value).map_err(|e| {
        ApiError::BadRequest(format!("Malformed postback: {}", e.to_string().split(" at line ").next().unwrap_or("")))
    })?;
    let (username, password) = credentials(&headers).ok_or_else(unauthorized)?;
    let screening_id = postback.reference_id.as_deref().and_then(ScreeningId::parse).ok_or_else(unauthorized)?;
    let org_id = postback.customer_reference_id.trim();
    if !shared::domain::ids::is_valid(org_id, "org") {
        return Err(unauthorized());
    }
    let store = services.store.screenings();
    let screening = store.get(org_id, screening_id.as_str()).await?.ok_or_else(unauthorized)?;
    let user_ok = screening.postback_username.as_bytes().ct_eq(username.as_bytes());
    let password_ok = screening.postback_password_sha256.as_bytes().ct_eq(password_digest(&password).as_bytes());
    if !bool::from(user_ok & password_ok) {
        return Err(unauthorized());
    }
    match screening.application_id {
        Some(known) if known != postback.application_id => return Err(unauthorized()),
        Some(_) => {}
        None => {
            if !store.attach_application(org_id, screening_id.as_str(), postback.application_id).await? {
                return Err(unauthorized());
            }
        }
    }
    let now = time_format::now();
    let entry = PostbackEntry {
        application_id: postback.application_id,
        report_status: postback.report_status,
        notification_text: postback.notification_text,
        reference_text: postback.reference_text,
        advanced: false,
        received_at: time_format::format(now),
    };
    let recorded = store.record_postback(org_id, screening_id.as_str(), &entry, now).await?;
    tracing::info!(screening_id = %screening_id, status = entry.report_status.as_str(), outcome = ?recorded, "postback");
    let receipt = Receipt {
        screening_id: screening_id.to_string(),
        duplicate: recorded == PostbackRecorded::Duplicate,
        status_changed: recorded == PostbackRecorded::Advanced,
    };
    Ok(ApiResponse::ok(receipt).into_response())
}
