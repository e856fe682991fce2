//! Tenant screenings ordered through the SmartMove API: the stored order, its report
//! status (which only moves forward) and the postbacks SmartMove sent about it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::time_format;

/// The status of a SmartMove report, exactly as the SmartMove API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ReportStatus {
    Pending,
    InProgress,
    Ready,
    RequestDeclined,
    Error,
    Expired,
}

impl ReportStatus {
    /// The order statuses move in: `Pending` < `InProgress` < any final status. A status
    /// moves only to a higher rank, so a late `InProgress` never undoes `Ready`, and the
    /// first final status stays.
    pub fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::InProgress => 1,
            Self::Ready | Self::RequestDeclined | Self::Error | Self::Expired => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Ready => "Ready",
            Self::RequestDeclined => "RequestDeclined",
            Self::Error => "Error",
            Self::Expired => "Expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::InProgress, Self::Ready, Self::RequestDeclined, Self::Error, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// How the order was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScreeningMode {
    /// `application/create`: the landlord finishes the order at SmartMove's link.
    Link,
    /// `application/create/embedded`: placed at once, the landlord pays by card.
    Embedded,
}

/// A stored screening. The postback password is kept only as its SHA-256 digest (it is
/// 32 random bytes, so a fast digest is enough).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    pub id: String,
    pub org_id: String,
    pub property_id: String,
    pub unit_id: String,
    pub applicants: Vec<String>,
    pub mode: ScreeningMode,
    pub landlord_pays: bool,
    /// SmartMove's application id: known at once for an embedded order, from the first
    /// authenticated postback for a link order.
    pub application_id: Option<i64>,
    /// The link an order in link mode is finished at.
    pub order_link: Option<String>,
    pub status: ReportStatus,
    pub status_rank: u8,
    pub cancelled: bool,
    pub postback_username: String,
    pub postback_password_sha256: String,
    /// Tenants created from the applicants by `convert`.
    #[serde(default)]
    pub tenant_ids: Vec<String>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// One postback as received (deduplicated by its content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PostbackEntry {
    pub application_id: i64,
    pub report_status: ReportStatus,
    pub notification_text: Option<String>,
    pub reference_text: Option<String>,
    /// Whether this postback moved the screening's status.
    pub advanced: bool,
    pub received_at: String,
}

/// `screening.status_changed`: the detail published on the bus.
#[derive(Debug, Clone, Serialize)]
pub struct StatusChanged<'a> {
    pub event: &'static str,
    pub screening_id: &'a str,
    pub organization_id: &'a str,
    pub application_id: i64,
    pub status: ReportStatus,
    pub timestamp: String,
}

/// The stored form of a postback password: its SHA-256, in hex.
pub fn password_digest(password: &str) -> String {
    use sha2::Digest;
    crate::http::body::hex(&sha2::Sha256::digest(password.as_bytes()))
}
