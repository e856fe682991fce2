//! What clients see of a maintenance request and its timeline.

use std::collections::BTreeMap;

use serde::Serialize;
use shared::domain::attachment::{Attachment, AttachmentStatus};
use shared::domain::maintenance::{Category, MaintenanceRequest, Priority, RequestUpdate, Status, UpdateKind};
use shared::domain::vendor::Vendor;
use shared::domain::work_order::{WorkOrder, WorkOrderStatus};
use shared::time_format;
use utoipa::ToSchema;

use crate::bucket::SignedUrl;

/// A maintenance request on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceRequestView {
    #[schema(example = "mr_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub property_id: String,
    pub unit_id: Option<String>,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub category: Category,
    pub status: Status,
    /// Whether staff may enter the unit when nobody is home.
    pub permission_to_enter: bool,
    /// When the tenant would like the visit, in their own words.
    pub preferred_times: Vec<String>,
    /// The user working on it.
    pub assignee_id: Option<String>,
    /// The tenant who reported it, when a tenant did.
    pub tenant_id: Option<String>,
    /// `user:<id>` or `key:<id>`.
    pub reported_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    pub version: u64,
}

impl From<&MaintenanceRequest> for MaintenanceRequestView {
    fn from(r: &MaintenanceRequest) -> Self {
        Self {
            id: r.id.clone(),
            property_id: r.property_id.clone(),
            unit_id: r.unit_id.clone(),
            title: r.fields.title.clone(),
            description: r.fields.description.clone(),
            priority: r.fields.priority,
            category: r.fields.category,
            status: r.status,
            permission_to_enter: r.fields.permission_to_enter,
            preferred_times: r.fields.preferred_times.clone(),
            assignee_id: r.assignee_id.clone(),
            tenant_id: r.tenant_id.clone(),
            reported_by: r.reported_by.clone(),
            created_at: time_format::format(r.created_at),
            updated_at: time_format::format(r.updated_at),
            completed_at: r.completed_at.map(time_format::format),
            version: r.version,
        }
    }
}

/// One entry of a request's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateView {
    #[schema(example = "mru_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub kind: UpdateKind,
    /// Who: `user:<id>` or `key:<id>`.
    pub actor: String,
    /// When (RFC 3339).
    pub at: String,
    pub from_status: Option<Status>,
    pub to_status: Option<Status>,
    pub assignee_id: Option<String>,
    pub comment: Option<String>,
}

impl From<&RequestUpdate> for UpdateView {
    fn from(u: &RequestUpdate) -> Self {
        Self {
            id: u.id.clone(),
            kind: u.kind,
            actor: u.actor.clone(),
            at: time_format::format(u.at),
            from_status: u.from_status,
            to_status: u.to_status,
            assignee_id: u.assignee_id.clone(),
            comment: u.comment.clone(),
        }
    }
}

/// A maintenance request in the integration API's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationRequest {
    #[schema(example = "mr_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub property_id: String,
    #[schema(example = "Broken AC")]
    pub title: String,
    #[schema(example = "AC unit not cooling")]
    pub description: String,
    pub priority: Priority,
    pub category: Category,
    pub status: Status,
    pub created_at: String,
}

impl From<&MaintenanceRequest> for IntegrationRequest {
    fn from(r: &MaintenanceRequest) -> Self {
        Self {
            id: r.id.clone(),
            property_id: r.property_id.clone(),
            title: r.fields.title.clone(),
            description: r.fields.description.clone(),
            priority: r.fields.priority,
            category: r.fields.category,
            status: r.status,
            created_at: time_format::format(r.created_at),
        }
    }
}

/// `GET /api/ai/maintenance`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationRequestList {
    pub maintenance_requests: Vec<IntegrationRequest>,
}

/// `POST /api/ai/maintenance`: the request created.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationRequestEnvelope {
    pub maintenance_request: IntegrationRequest,
}

/// An attachment as a listing shows it: with a download URL once its bytes are in.
pub struct Shown {
    pub attachment: Attachment,
    pub download: Option<SignedUrl>,
}

impl Shown {
    pub fn pending(attachment: Attachment) -> Self {
        Self { attachment, download: None }
    }
}

/// A file attached to a maintenance request.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    #[schema(example = "att_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub maintenance_request_id: String,
    pub file_name: String,
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// `pending` until the bytes are in the bucket, then `uploaded`.
    pub status: AttachmentStatus,
    /// Who attached it: `user:<id>` or `key:<id>`.
    pub uploaded_by: String,
    pub created_at: String,
    /// When the bytes were first seen in the bucket.
    pub uploaded_at: Option<String>,
    /// A presigned `GET` URL, once uploaded; it expires at `download_expires_at`.
    pub download_url: Option<String>,
    pub download_expires_at: Option<String>,
}

impl From<&Shown> for AttachmentView {
    fn from(shown: &Shown) -> Self {
        let a = &shown.attachment;
        Self {
            id: a.id.clone(),
            maintenance_request_id: a.request_id.clone(),
            file_name: a.file_name.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            status: a.status,
            uploaded_by: a.uploaded_by.clone(),
            created_at: time_format::format(a.created_at),
            uploaded_at: a.uploaded_at.map(time_format::format),
            download_url: shown.download.as_ref().map(|d| d.url.clone()),
            download_expires_at: shown.download.as_ref().map(|d| time_format::format(d.expires_at)),
        }
    }
}

/// Where and how to upload an attachment's bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// `PUT`.
    pub method: String,
    pub url: String,
    /// Send exactly these headers (`content-type`, `content-length`): the URL's signature binds them.
    #[schema(value_type = Object, example = json!({"content-type": "image/jpeg", "content-length": "482113"}))]
    pub headers: BTreeMap<String, String>,
    pub expires_at: String,
}

impl From<SignedUrl> for UploadView {
    fn from(signed: SignedUrl) -> Self {
        Self {
            method: signed.method,
            url: signed.url,
            headers: signed.headers.into_iter().collect(),
            expires_at: time_format::format(signed.expires_at),
        }
    }
}

/// The answer to `POST .../{request_id}/attachments`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAttachmentView {
    pub attachment: AttachmentView,
    pub upload: UploadView,
}

/// A work order on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkOrderView {
    #[schema(example = "wo_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub maintenance_request_id: Option<String>,
    pub property_id: String,
    pub unit_id: Option<String>,
    pub title: String,
    pub description: String,
    pub assignee_id: Option<String>,
    pub vendor_id: Option<String>,
    /// When the current assignee or vendor was set.
    pub assigned_at: Option<String>,
    pub scheduled_start: Option<String>,
    pub scheduled_end: Option<String>,
    /// Minor units (cents).
    pub estimate: Option<i64>,
    /// Minor units (cents), once completed.
    pub cost: Option<i64>,
    pub currency: String,
    pub notes: Option<String>,
    pub status: WorkOrderStatus,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<&WorkOrder> for WorkOrderView {
    fn from(w: &WorkOrder) -> Self {
        Self {
            id: w.id.clone(),
            maintenance_request_id: w.maintenance_request_id.clone(),
            property_id: w.property_id.clone(),
            unit_id: w.unit_id.clone(),
            title: w.fields.title.clone(),
            description: w.fields.description.clone(),
            assignee_id: w.fields.assignee_id.clone(),
            vendor_id: w.fields.vendor_id.clone(),
            assigned_at: w.assigned_at.map(time_format::format),
            scheduled_start: w.fields.scheduled_start.map(time_format::format),
            scheduled_end: w.fields.scheduled_end.map(time_format::format),
            estimate: w.fields.estimate,
            cost: w.cost,
            currency: w.fields.currency.clone(),
            notes: w.notes.clone(),
            status: w.status,
            started_at: w.started_at.map(time_format::format),
            completed_at: w.completed_at.map(time_format::format),
            created_at: time_format::format(w.created_at),
            updated_at: time_format::format(w.updated_at),
            version: w.version,
        }
    }
}

/// A vendor on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorView {
    #[schema(example = "ven_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub trades: Vec<Category>,
    /// `YYYY-MM-DD`.
    pub insurance_expires_on: Option<String>,
    /// Whether the insurance covers today (UTC): only then can the vendor be assigned.
    pub insured: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<&Vendor> for VendorView {
    fn from(v: &Vendor) -> Self {
        Self {
            id: v.id.clone(),
            name: v.fields.name.clone(),
            email: v.fields.email.clone(),
            phone: v.fields.phone.clone(),
            trades: v.fields.trades.clone(),
            insurance_expires_on: v.fields.insurance_expires_on.map(shared::domain::calendar::format_date),
            insured: v.insured_on(shared::domain::calendar::today()),
            created_at: time_format::format(v.created_at),
            updated_at: time_format::format(v.updated_at),
            version: v.version,
        }
    }
}

/// `GET .../vendors/{vendor_id}/performance`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorPerformance {
    pub vendor_id: String,
    pub work_orders_total: usize,
    pub work_orders_completed: usize,
    /// Mean of the ratings, `null` before the first.
    pub average_rating: Option<f64>,
    pub ratings_count: usize,
    /// Median seconds from assignment to completion over completed work orders.
    pub median_completion_seconds: Option<i64>,
    /// Sum of completed work orders' costs, in minor units.
    pub total_cost: i64,
}
