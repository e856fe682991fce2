//! `/api/v1/operations/maintenance-requests/{request_id}/attachments`: photos and PDFs of a
//! request. A `POST` records the file and answers a presigned upload URL; a `GET` lists
//! the files with presigned download URLs. Whoever sees the request sees its files.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::auth::{Permission, Principal, Scope};
use shared::domain::attachment::{Attachment, AttachmentStatus};
use shared::http::body::Json;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::listing::PageParams;
use shared::http::query::{Path, Query};
use shared::store::attachments::AttachmentCreated;
use shared::store::keys;
use shared::store::page::Page;
use shared::{ApiError, Services, time_format};

use crate::access::actor;
use crate::bucket::{AttachmentBucket, DOWNLOAD_TTL};
use crate::refusals::Refused;
use crate::requests::AttachmentInput;
use crate::routes::{RequestPath, load, request_page};
use crate::views::{AttachmentView, CreatedAttachmentView, Shown};

/// Attach a photo or PDF: records it and answers a presigned `PUT` URL (15 minutes) that
/// S3 honours only with the declared `Content-Type` and `Content-Length` headers.
#[utoipa::path(post, path = "/api/v1/operations/maintenance-requests/{request_id}/attachments", operation_id = "createMaintenanceAttachment", tag = "maintenance",
    request_body = AttachmentInput, params(("request_id" = String, Path)),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["write:maintenance"])),
    responses(
        (status = 201, description = "Recorded; upload the bytes to `upload.url` with `upload.headers`", body = SuccessEnvelope<CreatedAttachmentView>),
        (status = 404, description = "No such request (or not the caller's to see)", body = ErrorEnvelope),
        (status = 422, description = "A content type other than JPEG, PNG, HEIC, WebP or PDF, a size over 10 MiB, or a bad file name", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(services): State<Services>,
    State(bucket): State<AttachmentBucket>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    body: Json<AttachmentInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::MaintenanceCreate, Some(Scope::WriteMaintenance))?;
    let request = load(&services, &principal, &path.request_id).await?;
    let fields = body.accept()?.value.validate()?;
    let attachment = Attachment::new(&request, fields, &actor(&principal), time_format::now());
    match services.store.attachments().create(&attachment).await? {
        AttachmentCreated::Created => {}
        AttachmentCreated::RequestMissing => return Err(Refused::RequestMissing.into()),
    }
    let upload = bucket.upload_url(&attachment).await?;
    let view =
        CreatedAttachmentView { attachment: AttachmentView::from(&Shown::pending(attachment)), upload: upload.into() };
    Ok(ApiResponse::ok(view).with_status(StatusCode::CREATED).into_response())
}

/// The request's attachments, oldest first. An uploaded file comes with a download URL
/// that works for 15 minutes; a file whose bytes have not arrived is `pending`, without one.
#[utoipa::path(get, path = "/api/v1/operations/maintenance-requests/{request_id}/attachments", operation_id = "listMaintenanceAttachments", tag = "maintenance",
    params(("request_id" = String, Path), PageParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:maintenance"])),
    responses(
        (status = 200, description = "A page of attachments", body = SuccessEnvelope<Vec<AttachmentView>>),
        (status = 404, description = "No such request (or not the caller's to see)", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(services): State<Services>,
    State(bucket): State<AttachmentBucket>,
    principal: Principal,
    Path(path): Path<RequestPath>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    let (request, listing) = request_page(
        &services,
        &principal,
        &path.request_id,
        &params,
        "maintenance-attachments",
        keys::maintenance_attachments_of,
    )
    .await?;
    let page =
        services.store.attachments().list(&principal.org_id, &request.id, listing.start.clone(), listing.size).await?;
    let mut shown = Vec::with_capacity(page.items.len());
    for attachment in page.items {
        shown.push(show(&services, &bucket, attachment).await?);
    }
    Ok(listing.respond::<_, AttachmentView>(&services.cursors, Page { items: shown, next: page.next }))
}

/// An attachment as listed: a pending one is looked for in the bucket (and recorded as
/// uploaded once its bytes are there); an uploaded one gets a download URL.
async fn show(services: &Services, bucket: &AttachmentBucket, attachment: Attachment) -> Result<Shown, ApiError> {
    let attachment = match attachment.status {
        AttachmentStatus::Uploaded => attachment,
        AttachmentStatus::Pending if bucket.holds(&attachment).await? => {
            let uploaded = attachment.uploaded(time_format::now());
            // A concurrent listing may have recorded it first; either way it is uploaded.
            services.store.attachments().mark_uploaded(&uploaded).await?;
            uploaded
        }
        AttachmentStatus::Pending => return Ok(Shown::pending(attachment)),
    };
    let download = bucket.download_url(&attachment, SystemTime::now(), DOWNLOAD_TTL).await?;
    Ok(Shown { attachment, download: Some(download) })
}
