//! What clients see of a screening.

use serde::Serialize;
use shared::domain::screening::{PostbackEntry, ReportStatus, Screening, ScreeningMode};
use shared::time_format;
use utoipa::ToSchema;

use crate::smartmove::{ApplicantStatus, ApplicationDetails, CreditRecommendation};

/// An applicant: their email, and from SmartMove's details (when the order is placed)
/// their name and progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicantView {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// SmartMove's `ApplicantStatus`; null until the details were read.
    pub status: Option<ApplicantStatus>,
}

/// A screening on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreeningView {
    #[schema(example = "scr_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub property_id: String,
    pub unit_id: String,
    pub mode: ScreeningMode,
    pub landlord_pays: bool,
    pub applicants: Vec<ApplicantView>,
    /// SmartMove's application id: set at once in embedded mode, from the first postback
    /// in link mode.
    pub application_id: Option<i64>,
    /// Link mode: where the landlord finishes the order.
    pub order_link: Option<String>,
    /// The report status; it only moves forward (`Pending`, `InProgress`, then a final one).
    pub status: ReportStatus,
    pub cancelled: bool,
    /// SmartMove's application status (`Active`, ...), from its details.
    pub application_status: Option<String>,
    /// The credit recommendation by name, from SmartMove's details.
    pub credit_recommendation: Option<CreditRecommendation>,
    pub credit_recommendation_policy_text: Option<String>,
    /// Tenants created from the applicants by `convert`.
    pub tenant_ids: Vec<String>,
    /// The postbacks received, oldest first (only on `GET /api/v1/screenings/{screening_id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postbacks: Option<Vec<PostbackEntry>>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<&Screening> for ScreeningView {
    fn from(s: &Screening) -> Self {
        Self {
            id: s.id.clone(),
            property_id: s.property_id.clone(),
            unit_id: s.unit_id.clone(),
            mode: s.mode,
            landlord_pays: s.landlord_pays,
            applicants: s
                .applicants
                .iter()
                .map(|email| ApplicantView { email: email.clone(), first_name: None, last_name: None, status: None })
                .collect(),
            application_id: s.application_id,
            order_link: s.order_link.clone(),
            status: s.status,
            cancelled: s.cancelled,
            application_status: None,
            credit_recommendation: None,
            credit_recommendation_policy_text: None,
            tenant_ids: s.tenant_ids.clone(),
            postbacks: None,
            created_at: time_format::format(s.created_at),
            updated_at: time_format::format(s.updated_at),
            version: s.version,
        }
    }
}

impl ScreeningView {
    /// The view refreshed from SmartMove's details.
    pub fn with_details(mut self, details: &ApplicationDetails) -> Self {
        self.landlord_pays = details.landlord_pays;
        self.applicants = details
            .applicants
            .iter()
            .map(|a| ApplicantView {
                email: a.email_address.to_lowercase(),
                first_name: a.first_name.clone(),
                last_name: a.last_name.clone(),
                status: Some(a.applicant_status),
            })
            .collect();
        self.application_status = Some(details.status.clone());
        self.credit_recommendation = CreditRecommendation::from_code(details.credit_recommendation);
        self.credit_recommendation_policy_text = details.credit_recommendation_policy_text.clone();
        self
    }
}

/// `GET .../report-url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportUrlView {
    pub screening_id: String,
    pub application_id: i64,
    /// SmartMove's link to the reports.
    pub url: String,
}

/// `GET .../report-status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportStatusView {
    pub screening_id: String,
    pub application_id: i64,
    /// As SmartMove reports it now.
    pub status: ReportStatus,
}
