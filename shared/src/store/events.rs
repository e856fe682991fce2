//! The organization's event log, the outbox of messages that go to the bus but never
//! into the log, the pending index that both share until the bus has them, and the
//! short-lived tokens that open an event stream in a browser.
//!
//! | item | PK | SK | GSI1 (pending only) | GSI2 |
//! |---|---|---|---|---|
//! | logged event | `ORG#<org>#EVENTS` | `EVENT#<event_id>` | `EVENTS#PENDING#<shard>` / `<logged_at>#<event_id>` | `ORG#<org>#EVENTS` / `<logged_at>#<event_id>` |
//! | outbox message | `ORG#<org>` | `OUTBOX#<event_id>` | `EVENTS#PENDING#<shard>` / `<written_at>#<event_id>` | – |
//! | stream token | `ORG#<org>` | `STREAMTOKEN#<sha256 of token>` | – | – |

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::ids;
use crate::events::DomainEvent;
use crate::http::pagination::PageKey;
use crate::store::keys::{ENTITY, EXPIRES_AT, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK};
use crate::store::page::Page;
use crate::store::requests::{entity_item, query_page};
use crate::store::transactions::build_err;
use crate::store::{Conditional, Item, Store, StoreError, keys, put_or_stored, s};
use crate::time_format;

/// How long the log keeps an event.
pub const EVENT_LOG_RETENTION: time::Duration = time::Duration::days(30);
/// The pending index is spread over this many partitions, so that a burst of events
/// does not write one hot index partition.
const PENDING_SHARDS: u8 = 8;
const EVENT_ENTITY: &str = "event";
const OUTBOX_ENTITY: &str = "outbox";
const STREAM_TOKEN_ENTITY: &str = "stream_token";
/// Key attributes of a GSI2 page of the log.
const LOG_PAGE_KEY: [&str; 4] = [PK, SK, GSI2PK, GSI2SK];

/// The partition of an organization's log (GSI2's key of its pages).
pub fn log_partition(org_id: &str) -> String {
    log_pk(org_id)
}

fn log_pk(org_id: &str) -> String {
    keys::collection(org_id, "EVENTS")
}

fn event_sk(event_id: &str) -> String {
    format!("EVENT#{event_id}")
}

fn outbox_sk(event_id: &str) -> String {
    format!("OUTBOX#{event_id}")
}

/// The pending-index partition of an event: a stable function of its id.
fn pending_pk(event_id: &str) -> String {
    let shard = event_id.bytes().fold(0u8, |acc, b| acc.wrapping_add(b)) % PENDING_SHARDS;
    format!("EVENTS#PENDING#{shard}")
}

/// An event as the log holds it.
#[derive(Debug, Serialize, Deserialize)]
struct LogRecord {
    event_id: String,
    /// The event type, for `type` filters.
    event: String,
    organization_id: String,
    /// The event as JSON text, exactly as it was published.
    body: String,
    /// When the relay logged it: the log's order.
    logged_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    published_at: Option<String>,
    expires_at: i64,
}

/// An event read from the log, with its place in the log's order.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub event: DomainEvent,
    /// The event as JSON text.
    pub body: String,
    /// `<logged_at>#<event_id>`: log order.
    pub position: String,
    pub published: bool,
}

impl From<&LoggedEvent> for DomainEvent {
    fn from(logged: &LoggedEvent) -> Self {
        logged.event.clone()
    }
}

fn logged_from_item(item: Item) -> Result<LoggedEvent, StoreError> {
    let position = crate::store::string_attr(&item, GSI2SK)?.to_owned();
    let record: LogRecord = serde_dynamo::from_item(item)?;
    let event = serde_json::from_str(&record.body).map_err(|_| StoreError::MissingAttribute("body"))?;
    Ok(LoggedEvent { event, body: record.body, position, published: record.published_at.is_some() })
}

/// What recording an event found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Logged now; not published yet.
    New,
    /// Logged before (a redelivered change) and still unpublished.
    Unpublished,
    /// Logged and published before: nothing is left to do.
    Published,
}

/// A message for the bus only (it may carry a one-time secret): written in the same
/// transaction as the change it announces, published by the relay, then deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub event_id: String,
    pub organization_id: String,
    /// The EventBridge `source`.
    pub source: String,
    /// The EventBridge `detail-type`.
    pub detail_type: String,
    /// The detail as JSON text.
    pub detail: String,
}

impl OutboxMessage {
    /// A new message with a fresh `evt_` id.
    pub fn new(organization_id: &str, source: &str, detail_type: &str, detail: String) -> Self {
        Self {
            event_id: ids::new("evt"),
            organization_id: organization_id.to_owned(),
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            detail,
        }
    }

    /// The message from a stored item (or a stream image of one).
    pub fn from_item(item: impl Into<serde_dynamo::Item>) -> Result<Self, StoreError> {
        Ok(serde_dynamo::from_item(item)?)
    }

    /// A transaction's `Put` of the message, which lives until `expires_at` at most.
    pub fn put(&self, store: &Store, expires_at: i64) -> Result<TransactWriteItem, StoreError> {
        let mut item = entity_item(self, keys::org(&self.organization_id), outbox_sk(&self.event_id), OUTBOX_ENTITY)?;
        item.insert(GSI1PK.into(), s(pending_pk(&self.event_id)));
        item.insert(GSI1SK.into(), s(format!("{}#{}", time_format::format(time_format::now()), self.event_id)));
        item.insert(EXPIRES_AT.into(), crate::store::n(expires_at));
        let put = Put::builder()
            .table_name(store.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// Something the bus has not received yet.
#[derive(Debug)]
pub enum Pending {
    Event(LoggedEvent),
    Message(OutboxMessage),
}

/// A type filter: an exact type (`property.created`), every type of a resource
/// (`maintenance.*`), or everything (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFilter {
    Exact(String),
    /// The part before `*`, such as `maintenance.`.
    Prefix(String),
}

/// Which events a listing wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub types: Option<TypeFilter>,
    /// Events logged at or after this time.
    pub since: Option<OffsetDateTime>,
}

impl EventQuery {
    /// A canonical description of the query, which pagination cursors are bound to.
    pub fn fingerprint(&self) -> String {
        format!("events|{:?}|{:?}", self.types, self.since.map(time_format::format))
    }
}

/// Who may open a stream with a token, and until when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamToken {
    pub organization_id: String,
    /// `user:<id>` or `key:<id>`: who minted it.
    pub minted_by: String,
    pub expires_at: i64,
}

/// The event log of every organization, and the outbox.
pub struct EventLog<'a> {
    store: &'a Store,
}

impl Store {
    pub fn event_log(&self) -> EventLog<'_> {
        EventLog { store: self }
    }
}

impl EventLog<'_> {
    /// Logs `event` unless it is there already (`attribute_not_exists`), marked pending
    /// until [`Self::mark_published`]; one `PutItem`. A redelivered change finds its
    /// event and learns whether it was published.
    pub async fn record(&self, event: &DomainEvent, now: OffsetDateTime) -> Result<Recorded, StoreError> {
        let body = serde_json::to_string(event).map_err(|_| StoreError::MissingAttribute("body"))?;
        let logged_at = time_format::format(now);
        let record = LogRecord {
            event_id: event.event_id.clone(),
            event: event.event.clone(),
            organization_id: event.organization_id.clone(),
            body,
            logged_at: logged_at.clone(),
            published_at: None,
            expires_at: (now + EVENT_LOG_RETENTION).unix_timestamp(),
        };
        let mut item = entity_item(&record, log_pk(&event.organization_id), event_sk(&event.event_id), EVENT_ENTITY)?;
        let position = format!("{logged_at}#{}", event.event_id);
        item.insert(GSI1PK.into(), s(pending_pk(&event.event_id)));
        item.insert(GSI1SK.into(), s(&position));
        item.insert(GSI2PK.into(), s(log_pk(&event.organization_id)));
        item.insert(GSI2SK.into(), s(position));
        let request = self
            .store
            .client()
            .put_item()
            .table_name(self.store.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)");
        Ok(match put_or_stored(request).await? {
            Conditional::Written => Recorded::New,
            Conditional::Refused(Some(stored)) if stored.contains_key("published_at") => Recorded::Published,
            Conditional::Refused(_) => Recorded::Unpublished,
        })
    }

    /// Marks a logged event published and takes it off the pending index.
    pub async fn mark_published(&self, org_id: &str, event_id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.store
            .client()
            .update_item()
            .table_name(self.store.table())
            .key(PK, s(log_pk(org_id)))
            .key(SK, s(event_sk(event_id)))
            .update_expression("SET published_at = :now REMOVE GSI1PK, GSI1SK")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", s(time_format::format(now)))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        Ok(())
    }

    /// One logged event of the organization (consistent read).
    pub async fn get(&self, org_id: &str, event_id: &str) -> Result<Option<LoggedEvent>, StoreError> {
        if !ids::is_valid(event_id, "evt") {
            return Ok(None);
        }
        let item = self.store.get_item_consistent(log_pk(org_id), event_sk(event_id)).await?;
        item.map(logged_from_item).transpose()
    }

    /// One page of the organization's log in log order (oldest first), from `start`
    /// (a cursor's key) or else from `query.since`.
    pub async fn page(
        &self,
        org_id: &str,
        query: &EventQuery,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<LoggedEvent>, StoreError> {
        // Every position is a timestamp, and every timestamp sorts after "0".
        let lower = query.since.map_or_else(|| "0".to_owned(), time_format::format);
        let request = self.log_query(org_id, &lower, query.types.as_ref());
        query_page(request, start, limit, &LOG_PAGE_KEY).await?.try_map(logged_from_item)
    }

    /// The events logged after `position` (exclusive), oldest first, up to `limit`:
    /// one `Query` of GSI2.
    pub async fn after(
        &self,
        org_id: &str,
        position: &str,
        types: Option<&TypeFilter>,
        limit: usize,
    ) -> Result<Page<LoggedEvent>, StoreError> {
        // The smallest string greater than `position`.
        let lower = format!("{position}\u{1}");
        let request = self.log_query(org_id, &lower, types);
        query_page(request, None, limit, &LOG_PAGE_KEY).await?.try_map(logged_from_item)
    }

    fn log_query(
        &self,
        org_id: &str,
        lower: &str,
        types: Option<&TypeFilter>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .index_name(GSI2)
            .key_condition_expression("GSI2PK = :pk AND GSI2SK >= :lower")
            .expression_attribute_values(":pk", s(log_pk(org_id)))
            .expression_attribute_values(":lower", s(lower));
        match types {
            Some(TypeFilter::Exact(kind)) => {
                request = request
                    .filter_expression("#event = :type")
                    .expression_attribute_names("#event", "event")
                    .expression_attribute_values(":type", s(kind));
            }
            Some(TypeFilter::Prefix(prefix)) if !prefix.is_empty() => {
                request = request
                    .filter_expression("begins_with(#event, :type)")
                    .expression_attribute_names("#event", "event")
                    .expression_attribute_values(":type", s(prefix));
            }
            Some(TypeFilter::Prefix(_)) | None => {}
        }
        request
    }

    /// Events and messages still pending that were written before `before`, up to
    /// `limit` per index partition: one `Query` of GSI1 per partition.
    pub async fn pending(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let upper = time_format::format(before);
        let mut found = Vec::new();
        for shard in 0..PENDING_SHARDS {
            let request = self
                .store
                .client()
                .query()
                .table_name(self.store.table())
                .index_name(GSI1)
                .key_condition_expression("GSI1PK = :pk AND GSI1SK < :upper")
                .expression_attribute_values(":pk", s(format!("EVENTS#PENDING#{shard}")))
                .expression_attribute_values(":upper", s(&upper));
            let page = query_page(request, None, limit, &[PK, SK, GSI1PK, GSI1SK]).await?;
            for item in page.items {
                let entity = crate::store::string_attr(&item, ENTITY)?;
                if entity == OUTBOX_ENTITY {
                    found.push(Pending::Message(OutboxMessage::from_item(item)?));
                } else {
                    found.push(Pending::Event(logged_from_item(item)?));
                }
            }
        }
        Ok(found)
    }

    /// Whether the outbox still holds the message (it is deleted once published).
    pub async fn outbox_holds(&self, org_id: &str, event_id: &str) -> Result<bool, StoreError> {
        Ok(self.store.get_item_consistent(keys::org(org_id), outbox_sk(event_id)).await?.is_some())
    }

    /// Deletes a published message.
    pub async fn delete_outbox(&self, org_id: &str, event_id: &str) -> Result<(), StoreError> {
        self.store
            .client()
            .delete_item()
            .table_name(self.store.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(outbox_sk(event_id)))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("DeleteItem", e))?;
        Ok(())
    }

    /// Stores a stream token's digest until it expires.
    pub async fn put_stream_token(&self, digest: &str, token: &StreamToken) -> Result<(), StoreError> {
        // `expires_at` is the token's TTL attribute too.
        let item = entity_item(token, keys::org(&token.organization_id), stream_token_sk(digest), STREAM_TOKEN_ENTITY)?;
        self.store.put_new(item).await
    }

    /// The stream token with this digest in the organization, if it is still valid at `now`.
    pub async fn stream_token(&self, org_id: &str, digest: &str, now: i64) -> Result<Option<StreamToken>, StoreError> {
        let token: Option<StreamToken> = self.store.get_consistent(keys::org(org_id), stream_token_sk(digest)).await?;
        Ok(token.filter(|t| t.expires_at > now && t.organization_id == org_id))
    }
}

fn stream_token_sk(digest: &str) -> String {
    format!("STREAMTOKEN#{digest}")
}
