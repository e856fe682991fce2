//! The bodies the maintenance routes accept, and their validation.

use serde::Deserialize;
use shared::domain::Problems;
use shared::domain::attachment::AttachmentFields;
use shared::domain::ids::{PropertyId, UnitId};
use shared::domain::maintenance::{Category, Priority, RequestFields, Status, TEXT_MAX};
use shared::domain::work_order::WorkOrderFields;
use utoipa::ToSchema;

/// The body of `POST /api/v1/operations/maintenance-requests`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    pub property_id: String,
    /// A unit of the property. A Tenant may leave it out when they rent one unit there.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 5000 characters.
    #[serde(default)]
    pub description: String,
    pub priority: Priority,
    pub category: Category,
    /// Defaults to `false`.
    #[serde(default)]
    pub permission_to_enter: bool,
    /// Up to 10 entries of up to 100 characters ("weekday mornings").
    #[serde(default)]
    pub preferred_times: Vec<String>,
}

/// Where a validated new request goes.
pub struct Placement {
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
}

impl RequestInput {
    pub fn validate(&self) -> Result<(Placement, RequestFields), Problems> {
        let mut p = Problems::new();
        let property_id = PropertyId::parse(&self.property_id);
        if property_id.is_none() {
            p.add("property_id", "must be a property id");
        }
        let unit_id = self.unit_id.as_deref().map(UnitId::parse);
        if unit_id.as_ref().is_some_and(Option::is_none) {
            p.add("unit_id", "must be a unit id");
        }
        let fields = RequestFields::validated(
            &self.title,
            &self.description,
            self.priority,
            self.category,
            self.permission_to_enter,
            &self.preferred_times,
        );
        let fields = match fields {
            Ok(fields) => Some(fields),
            Err(problems) => {
                for problem in problems.iter() {
                    p.add(problem.field.clone(), problem.message.clone());
                }
                None
            }
        };
        p.into_result()?;
        match (property_id, fields) {
            (Some(property_id), Some(fields)) => Ok((Placement { property_id, unit_id: unit_id.flatten() }, fields)),
            _ => Err(Problems::one("request", "is invalid")),
        }
    }
}

/// The body of `POST /api/ai/maintenance`: exactly the integration API's fields.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    #[schema(example = "prop_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub property_id: String,
    #[schema(example = "Broken AC")]
    pub title: String,
    #[schema(example = "AC unit not cooling")]
    pub description: String,
    pub priority: Priority,
    pub category: Category,
}

impl From<IntegrationInput> for RequestInput {
    fn from(i: IntegrationInput) -> Self {
        Self {
            property_id: i.property_id,
            unit_id: None,
            title: i.title,
            description: i.description,
            priority: i.priority,
            category: i.category,
            permission_to_enter: false,
            preferred_times: Vec::new(),
        }
    }
}

/// The body of `PUT /api/v1/operations/maintenance-requests/{request_id}`: every writable
/// field. The property and unit do not change; `status` moves along the allowed
/// transitions (`assigned` only through `.../assign`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestReplace {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub priority: Priority,
    pub category: Category,
    #[serde(default)]
    pub permission_to_enter: bool,
    #[serde(default)]
    pub preferred_times: Vec<String>,
    /// Leave out to keep the current status.
    #[serde(default)]
    pub status: Option<Status>,
}

impl RequestReplace {
    pub fn validate(&self) -> Result<(RequestFields, Option<Status>), Problems> {
        let fields = RequestFields::validated(
            &self.title,
            &self.description,
            self.priority,
            self.category,
            self.permission_to_enter,
            &self.preferred_times,
        )?;
        if self.status == Some(Status::Assigned) {
            return Err(Problems::one("status", "a request is assigned through POST .../assign"));
        }
        Ok((fields, self.status))
    }
}

/// The body of `POST .../{request_id}/assign`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// The user (`user_...`) who will fix it, usually `MaintenanceStaff`.
    pub assignee_id: String,
    /// Recorded on the timeline.
    #[serde(default)]
    pub note: Option<String>,
}

fn note(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<String> {
    raw.map(|n| p.text(field, n, 1, TEXT_MAX))
}

impl AssignInput {
    pub fn validate(&self) -> Result<(String, Option<String>), Problems> {
        let mut p = Problems::new();
        if !shared::domain::ids::is_valid(&self.assignee_id, "user") {
            p.add("assignee_id", "must be a user id");
        }
        let note = note(&mut p, "note", self.note.as_deref());
        p.into_result()?;
        Ok((self.assignee_id.clone(), note))
    }
}

/// The body of `POST .../{request_id}/complete` (may be `{}`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteInput {
    /// What was done; recorded on the timeline.
    #[serde(default)]
    pub resolution: Option<String>,
}

impl CompleteInput {
    pub fn validate(&self) -> Result<Option<String>, Problems> {
        let mut p = Problems::new();
        let resolution = note(&mut p, "resolution", self.resolution.as_deref());
        p.into_result()?;
        Ok(resolution)
    }
}

/// The body of `POST .../{request_id}/updates`: a comment on the timeline.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    /// 1 to 5000 characters.
    pub comment: String,
}

impl CommentInput {
    pub fn validate(&self) -> Result<String, Problems> {
        let mut p = Problems::new();
        let comment = p.text("comment", &self.comment, 1, TEXT_MAX);
        p.into_result()?;
        Ok(comment)
    }
}

/// The body of `POST .../{request_id}/attachments`: what the file is, before its bytes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    /// 1 to 255 characters, without `/`, `\` or `"`; the name a download gets.
    #[schema(example = "leak.jpg")]
    pub file_name: String,
    /// `image/jpeg`, `image/png`, `image/heic`, `image/webp` or `application/pdf`.
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// Bytes: 1 to 10485760 (10 MiB). The upload must be exactly this size.
    #[schema(example = 482113)]
    pub size: u64,
}

impl AttachmentInput {
    pub fn validate(&self) -> Result<AttachmentFields, Problems> {
        AttachmentFields::validated(&self.file_name, &self.content_type, self.size)
    }
}

/// The body of `POST /api/v1/operations/work-orders` and `PUT .../work-orders/{work_order_id}`
/// (where the request, property and unit, if sent, must be the work order's own).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkOrderInput {
    /// The request it fixes; its property and unit become the work order's.
    #[serde(default)]
    pub maintenance_request_id: Option<String>,
    /// Required without `maintenance_request_id`.
    #[serde(default)]
    pub property_id: Option<String>,
    #[serde(default)]
    pub unit_id: Option<String>,
    /// 1 to 200 characters.
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The user (`user_...`) doing the work.
    #[serde(default)]
    pub assignee_id: Option<String>,
    /// The vendor (`ven_...`) doing the work; their insurance must not have expired.
    #[serde(default)]
    pub vendor_id: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub scheduled_start: Option<String>,
    /// RFC 3339, not before `scheduled_start`.
    #[serde(default)]
    pub scheduled_end: Option<String>,
    /// Minor units (cents), not negative.
    #[serde(default)]
    pub estimate: Option<i64>,
    /// ISO 4217; defaults to `USD`.
    #[serde(default)]
    pub currency: Option<String>,
}

fn timestamp(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<time::OffsetDateTime> {
    let raw = raw?;
    let parsed = shared::time_format::parse(raw);
    if parsed.is_none() {
        p.add(field, "must be an RFC 3339 timestamp such as 2024-01-01T10:00:00Z");
    }
    parsed
}

impl WorkOrderInput {
    pub fn validate(&self) -> Result<WorkOrderFields, Problems> {
        let mut p = Problems::new();
        let title = p.text("title", &self.title, 1, shared::domain::maintenance::TITLE_MAX);
        let description = p.text("description", &self.description, 0, TEXT_MAX);
        if self.assignee_id.as_deref().is_some_and(|a| !shared::domain::ids::is_valid(a, "user")) {
            p.add("assignee_id", "must be a user id");
        }
        if self.vendor_id.as_deref().is_some_and(|v| shared::domain::ids::VendorId::parse(v).is_none()) {
            p.add("vendor_id", "must be a vendor id");
        }
        let start = timestamp(&mut p, "scheduled_start", self.scheduled_start.as_deref());
        let end = timestamp(&mut p, "scheduled_end", self.scheduled_end.as_deref());
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            p.add("scheduled_end", "must not be before scheduled_start");
        }
        if self.estimate.is_some_and(|e| e < 0) {
            p.add("estimate", "must not be negative");
        }
        let currency = p.check(
            "currency",
            shared::domain::Currency::parse(
                self.currency.as_deref().unwrap_or(shared::domain::property::DEFAULT_CURRENCY),
            ),
        );
        p.into_result()?;
        Ok(WorkOrderFields {
            title,
            description,
            assignee_id: self.assignee_id.clone(),
            vendor_id: self.vendor_id.clone(),
            scheduled_start: start,
            scheduled_end: end,
            estimate: self.estimate,
            currency: currency.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        })
    }
}

/// The body of `POST .../work-orders/{work_order_id}/complete`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteWorkOrderInput {
    /// What it cost, in minor units (cents) of the work order's currency.
    pub cost: i64,
    #[serde(default)]
    pub notes: Option<String>,
}

impl CompleteWorkOrderInput {
    pub fn validate(&self) -> Result<(i64, Option<String>), Problems> {
        let mut p = Problems::new();
        if self.cost < 0 {
            p.add("cost", "must not be negative");
        }
        let notes = note(&mut p, "notes", self.notes.as_deref());
        p.into_result()?;
        Ok((self.cost, notes))
    }
}

/// The body of `POST /api/v1/operations/vendors` and `PUT .../vendors/{vendor_id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorInput {
    /// 1 to 200 characters.
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// E.164, such as `+15550123456`.
    #[serde(default)]
    pub phone: Option<String>,
    /// The trades the vendor works in.
    #[serde(default)]
    pub trades: Vec<Category>,
    /// `YYYY-MM-DD`: the last day the vendor's insurance covers.
    #[serde(default)]
    pub insurance_expires_on: Option<String>,
}

impl VendorInput {
    pub fn validate(&self) -> Result<shared::domain::vendor::VendorFields, Problems> {
        let mut p = Problems::new();
        let name = p.text("name", &self.name, 1, 200);
        if self.email.as_deref().is_some_and(|e| !shared::domain::tenant::is_email(e)) {
            p.add("email", "must be an email address");
        }
        if self.phone.as_deref().is_some_and(|e| !shared::domain::tenant::is_e164(e)) {
            p.add("phone", "must be E.164, such as +15550123456");
        }
        let expires = self.insurance_expires_on.as_deref().and_then(|d| p.date("insurance_expires_on", d));
        let mut trades = self.trades.clone();
        trades.sort_by_key(|t| format!("{t:?}"));
        trades.dedup();
        p.into_result()?;
        Ok(shared::domain::vendor::VendorFields {
            name,
            email: self.email.clone(),
            phone: self.phone.clone(),
            trades,
            insurance_expires_on: expires,
        })
    }
}

/// The body of `POST .../vendors/{vendor_id}/rate`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateInput {
    /// A completed work order of this vendor, rated once.
    pub work_order_id: String,
    /// 1 to 5.
    pub rating: u8,
}
