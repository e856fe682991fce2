//! Attachments of maintenance requests (the files themselves are in S3).
//!
//! | item | PK | SK |
//! |---|---|---|
//! | attachment (`maintenance_attachment`) | `ORG#<org>` | `MAINTATTACH#<mr>#<att>` |
//!
//! | pattern | key condition |
//! |---|---|
//! | one request's attachments, oldest first | `PK=ORG#<org>`, `SK begins_with MAINTATTACH#<mr>#` (consistent) |
//! | record an upload seen in the bucket | `UpdateItem` `PK=ORG#<org>`, `SK=MAINTATTACH#<mr>#<att>` while `pending` |
//!
//! A new attachment is one transaction with a check that its request still exists.

use crate::domain::attachment::{Attachment, AttachmentStatus};
use crate::store::keys;
use crate::store::page::{Page, PageKey};
use crate::store::requests::{entity_item, put_if_new};
use crate::store::transactions::{TransactItem, condition_failed, transact, unexpected_cancellation};
use crate::store::{Store, StoreError, s, update_if};

const ENTITY: &str = "maintenance_attachment";

/// The outcome of [`AttachmentRepository::create`].
#[derive(Debug, PartialEq, Eq)]
pub enum AttachmentCreated {
    Created,
    /// The request was deleted meanwhile.
    RequestMissing,
}

impl Store {
    pub fn attachments(&self) -> AttachmentRepository<'_> {
        AttachmentRepository { store: self }
    }
}

pub struct AttachmentRepository<'a> {
    store: &'a Store,
}

fn attachment_sk(request_id: &str, attachment_id: &str) -> String {
    format!("{}{attachment_id}", keys::maintenance_attachments_of(request_id))
}

fn status_name(status: AttachmentStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl AttachmentRepository<'_> {
    /// Records a pending attachment of a request that still exists: one transaction.
    pub async fn create(&self, attachment: &Attachment) -> Result<AttachmentCreated, StoreError> {
        let org = keys::org(&attachment.org_id);
        let item = entity_item(attachment, org.clone(), attachment_sk(&attachment.request_id, &attachment.id), ENTITY)?;
        let items = vec![
            put_if_new(self.store, item)?.transact_item()?,
            self.store
                .check_in_transaction(org, keys::maintenance_request(&attachment.request_id))
                .condition_expression("attribute_exists(PK)")
                .transact_item()?,
        ];
        match transact(self.store, items).await? {
            None => Ok(AttachmentCreated::Created),
            Some(failed) if condition_failed(&failed, 1) => Ok(AttachmentCreated::RequestMissing),
            Some(_) => Err(unexpected_cancellation("maintenance attachment id collision")),
        }
    }

    /// One page of a request's attachments, oldest first: a single consistent `Query`.
    pub async fn list(
        &self,
        org_id: &str,
        request_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Attachment>, StoreError> {
        self.store
            .query_prefix_page(keys::org(org_id), keys::maintenance_attachments_of(request_id), start, limit)
            .await
    }

    /// Records that a pending attachment's bytes are in the bucket; `false` when it was
    /// already recorded (or is gone).
    pub async fn mark_uploaded(&self, uploaded: &Attachment) -> Result<bool, StoreError> {
        let at = uploaded.uploaded_at.map(crate::time_format::format).unwrap_or_default();
        let request = self
            .store
            .update_item(keys::org(&uploaded.org_id), attachment_sk(&uploaded.request_id, &uploaded.id))
            .update_expression("SET #status = :uploaded, uploaded_at = :at")
            .condition_expression("attribute_exists(PK) AND #status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":uploaded", s(status_name(AttachmentStatus::Uploaded)))
            .expression_attribute_values(":pending", s(status_name(AttachmentStatus::Pending)))
            .expression_attribute_values(":at", s(at));
        Ok(update_if(request).await?.is_some())
    }
}
