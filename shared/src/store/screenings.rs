//! Screening items and the postbacks SmartMove sent about them.
//!
//! | pattern | key condition |
//! |---|---|
//! | get one | `PK=ORG#<org>`, `SK=SCREENING#<scr>` |
//! | the organization's screenings, oldest first | `PK=ORG#<org>`, `SK begins_with SCREENING#` |
//! | one screening's postbacks | `PK=ORG#<org>`, `SK begins_with SMPOSTBACK#<scr>#` |

use aws_sdk_dynamodb::types::TransactWriteItem;
use sha2::{Digest, Sha256};

use crate::domain::screening::{PostbackEntry, ReportStatus, Screening};
use crate::store::events::OutboxMessage;
use crate::store::keys::{self, PK, SK};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{
    VersionedPut, entity_item, get_consistent, org_prefix_query, put_at_version, put_if_new, query_page,
};
use crate::store::transactions::{CreateTransaction, IdempotentCreate, condition_failed, transact, transact_create};
use crate::store::{Item, Store, StoreError, item_key, n, s, update_if};

const ENTITY_NAME: &str = "screening";
const POSTBACK_ENTITY: &str = "smartmove_postback";
/// How long a `screening.status_changed` outbox item may wait for the relay.
const OUTBOX_LIFETIME_SECS: i64 = 3600;

/// The outcome of [`ScreeningRepository::create`].
#[derive(Debug, PartialEq)]
pub enum ScreeningCreated {
    Created,
    /// The `Idempotency-Key` was used before; nothing was written.
    Replay(Box<crate::store::idempotency::IdempotencyRecord>),
}

/// What recording a postback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostbackRecorded {
    /// Stored, and it moved the screening's status (a `screening.status_changed` went out).
    Advanced,
    /// Stored in the history; the status stayed (it was not newer).
    Stored,
    /// The same postback was stored before; nothing changed.
    Duplicate,
}

/// Which screenings a listing wants.
#[derive(Debug, Clone, Default)]
pub struct ScreeningFilter {
    pub property_id: Option<String>,
    pub unit_id: Option<String>,
    pub status: Option<ReportStatus>,
}

impl Store {
    pub fn screenings(&self) -> ScreeningRepository<'_> {
        ScreeningRepository { store: self }
    }
}

pub struct ScreeningRepository<'a> {
    store: &'a Store,
}

fn to_item(screening: &Screening) -> Result<Item, StoreError> {
    entity_item(screening, keys::org(&screening.org_id), keys::screening(&screening.id), ENTITY_NAME)
}

/// The content digest a postback is deduplicated by.
pub fn postback_digest(entry: &PostbackEntry) -> String {
    let mut hasher = Sha256::new();
    for part in [
        entry.application_id.to_string().as_str(),
        entry.report_status.as_str(),
        entry.notification_text.as_deref().unwrap_or("\u{0}"),
        entry.reference_text.as_deref().unwrap_or("\u{0}"),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0x1f]);
    }
    crate::http::body::hex(&hasher.finalize())
}

impl ScreeningRepository<'_> {
    pub async fn get(&self, org_id: &str, screening_id: &str) -> Result<Option<Screening>, StoreError> {
        get_consistent(self.store, item_key(keys::org(org_id), keys::screening(screening_id))).await
    }

    /// Stores a new screening (with its idempotency record, when the order carried a key).
    pub async fn create(
        &self,
        screening: &Screening,
        idempotency: Option<IdempotentCreate<'_>>,
    ) -> Result<ScreeningCreated, StoreError> {
        let items = vec![TransactWriteItem::builder().put(put_if_new(self.store, to_item(screening)?)?).build()];
        match transact_create(self.store, &screening.org_id, screening.created_at, items, idempotency).await? {
            CreateTransaction::Written => Ok(ScreeningCreated::Created),
            CreateTransaction::Replay(first) => Ok(ScreeningCreated::Replay(first)),
            CreateTransaction::Refused(_) => {
                Err(crate::store::transactions::unexpected_cancellation("screening id collision"))
            }
        }
    }

    /// Replaces a screening if its stored version is still `expected_version`.
    pub async fn replace(&self, next: &Screening, expected_version: u64) -> Result<VersionedPut, StoreError> {
        put_at_version(self.store, to_item(next)?, expected_version).await
    }

    /// One page of the organization's screenings, oldest first, narrowed by `filter`.
    pub async fn list(
        &self,
        org_id: &str,
        filter: &ScreeningFilter,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Screening>, StoreError> {
        let mut request = org_prefix_query(self.store, org_id, keys::SCREENING_PREFIX).consistent_read(true);
        let mut conditions = Vec::new();
        if let Some(property_id) = &filter.property_id {
            conditions.push("property_id = :property_id");
            request = request.expression_attribute_values(":property_id", s(property_id));
        }
        if let Some(unit_id) = &filter.unit_id {
            conditions.push("unit_id = :unit_id");
            request = request.expression_attribute_values(":unit_id", s(unit_id));
        }
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        if !conditions.is_empty() {
            request = request.filter_expression(conditions.join(" AND "));
        }
        let page = query_page(request, start, limit, &[PK, SK]).await?;
        page.try_map(|item| Ok(serde_dynamo::from_item(item)?))
    }

    /// A screening's postbacks, in the order they were received.
    pub async fn history(&self, org_id: &str, screening_id: &str) -> Result<Vec<PostbackEntry>, StoreError> {
        let mut entries: Vec<PostbackEntry> = Vec::new();
        let mut start = None;
        loop {
            let request = org_prefix_query(self.store, org_id, keys::postbacks_of(screening_id)).consistent_read(true);
            let page = crate::store::requests::query_raw_page(request, start, &[PK, SK]).await?;
            for item in page.items {
                entries.push(serde_dynamo::from_item(item)?);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        entries.sort_by(|a, b| a.received_at.cmp(&b.received_at));
        Ok(entries)
    }

    /// Sets SmartMove's application id of a link-mode screening from its first
    /// authenticated postback; `false` when the screening already names another one.
    pub async fn attach_application(
        &self,
        org_id: &str,
        screening_id: &str,
        application_id: i64,
    ) -> Result<bool, StoreError> {
        let request = self
            .store
            .update_item(keys::org(org_id), keys::screening(screening_id))
            .update_expression("SET application_id = :app")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(application_id) OR attribute_type(application_id, :null) OR application_id = :app)",
            )
            .expression_attribute_values(":app", n(application_id))
            .expression_attribute_values(":null", s("NULL"));
        Ok(update_if(request).await?.is_some())
    }

    /// Records a postback exactly once and moves the screening's status if the postback's
    /// is newer, in one transaction with the `screening.status_changed` outbox item, so a
    /// status change is never stored without its history entry or its event.
    pub async fn record_postback(
        &self,
        org_id: &str,
        screening_id: &str,
        entry: &PostbackEntry,
        now: time::OffsetDateTime,
    ) -> Result<PostbackRecorded, StoreError> {
        let sk = format!("{}{}", keys::postbacks_of(screening_id), postback_digest(entry));
        let history_put = |advanced: bool| -> Result<TransactWriteItem, StoreError> {
            let stored = PostbackEntry { advanced, ..entry.clone() };
            let item = entity_item(&stored, keys::org(org_id), sk.clone(), POSTBACK_ENTITY)?;
            Ok(TransactWriteItem::builder().put(put_if_new(self.store, item)?).build())
        };
        let status = entry.report_status;
        let advance = self
            .store
            .update_in_transaction(keys::org(org_id), keys::screening(screening_id))
            .update_expression("SET #status = :status, status_rank = :rank, updated_at = :now ADD version :one")
            .condition_expression("attribute_exists(PK) AND status_rank < :rank")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":rank", n(status.rank()))
            .expression_attribute_values(":now", s(crate::time_format::format(now)))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(crate::store::transactions::build_err)?;
        let detail = crate::domain::screening::StatusChanged {
            event: "screening.status_changed",
            screening_id,
            organization_id: org_id,
            application_id: entry.application_id,
            status,
            timestamp: crate::time_format::format(now),
        };
        let detail = serde_json::to_string(&detail).map_err(|e| StoreError::Dynamo {
            operation: "serialize",
            detail: e.to_string(),
            retryable: false,
        })?;
        let message = OutboxMessage::new(org_id, "doorstep.screening", "screening.status_changed", detail);
        let items = vec![
            history_put(true)?,
            TransactWriteItem::builder().update(advance).build(),
            message.put(self.store, now.unix_timestamp() + OUTBOX_LIFETIME_SECS)?,
        ];
        let Some(failed) = transact(self.store, items).await? else { return Ok(PostbackRecorded::Advanced) };
        if condition_failed(&failed, 0) {
            return Ok(PostbackRecorded::Duplicate);
        }
        // Not newer than the stored status: keep it in the history only.
        match transact(self.store, vec![history_put(false)?]).await? {
            None => Ok(PostbackRecorded::Stored),
            Some(_) => Ok(PostbackRecorded::Duplicate),
        }
    }
}
