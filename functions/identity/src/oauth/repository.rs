//! OAuth items in the single table, and their access patterns. Every partition key
//! starts with an organization: the app's own for its registration, the user's for
//! everything a user's consent creates.
//!
//! | item | PK | SK | TTL |
//! |---|---|---|---|
//! | app | `ORG#<app org>` | `OAUTHAPP#<client_id>` | – |
//! | authorization code | `ORG#<user org>` | `OAUTHCODE#<code_id>` | 10 minutes |
//! | grant (a user's consent to an app) | `ORG#<user org>` | `OAUTHGRANT#<user_id>#<client_id>` | – |
//! | token family (one per code exchange) | `ORG#<user org>` | `OAUTHFAMILY#<code_id>` | refresh lifetime, renewed on rotation |
//! | refresh token | `ORG#<user org>` | `OAUTHREFRESH#<token_id>` | refresh lifetime |

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use std::collections::HashSet;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};
use shared::http::pagination::PageKey;
use shared::store::keys::{self, ENTITY, EXPIRES_AT, PK, SK};
use shared::store::page::Page;
use shared::store::{Item, Store, StoreError, n, s};
use shared::time_format;
use time::OffsetDateTime;

use crate::oauth::credentials::{self, Kind};

const APP: &str = "OAUTHAPP#";
const CODE: &str = "OAUTHCODE#";
const GRANT: &str = "OAUTHGRANT#";
const FAMILY: &str = "OAUTHFAMILY#";
const REFRESH: &str = "OAUTHREFRESH#";

/// A registered OAuth app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthApp {
    pub client_id: String,
    /// The organization that registered (owns) the app.
    pub org_id: String,
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<String>,
    /// The scopes the app may ask users for, and holds itself with `client_credentials`.
    pub scopes: Vec<String>,
    /// What the app may do in its own organization (`client_credentials`): its scopes'
    /// permissions that the person who registered it held.
    pub client_permissions: Vec<String>,
    /// SHA-256 of the client secret, hex.
    pub secret_hash: String,
    pub plan: shared::domain::Plan,
    pub created_by: String,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The identity a user's consent passes on to the app's tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grantor {
    pub user_id: String,
    pub org_id: String,
    #[serde(default)]
    pub email: Option<String>,
    pub roles: Vec<String>,
    #[serde(default)]
    pub tenant_profile_id: Option<String>,
    pub plan: shared::domain::Plan,
}

/// An authorization code: single use, short-lived, bound to everything the token
/// request must repeat or prove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub id: String,
    pub secret_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    pub grantor: Grantor,
    pub scopes: Vec<String>,
    /// The grant this code was issued under; revoking the grant voids the code.
    pub grant_id: String,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Epoch seconds (the table's TTL attribute).
    pub expires_at: i64,
    #[serde(default, with = "time_format::rfc3339_option", skip_serializing_if = "Option::is_none")]
    pub used_at: Option<OffsetDateTime>,
}

/// A user's standing consent to an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// Changes when the grant is revoked and given again, so old tokens stay dead.
    pub grant_id: String,
    pub client_id: String,
    pub app_name: String,
    pub user_id: String,
    /// Every scope the user has approved for the app (a string set in the table).
    pub scopes: Vec<String>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A refresh token. Rotation marks it used and issues the next one of its family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub id: String,
    pub secret_hash: String,
    /// The code exchange that started the chain; reuse anywhere in it revokes it all.
    pub family_id: String,
    pub client_id: String,
    pub grantor: Grantor,
    pub scopes: Vec<String>,
    pub grant_id: String,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Epoch seconds (the table's TTL attribute).
    pub expires_at: i64,
    #[serde(default, with = "time_format::rfc3339_option", skip_serializing_if = "Option::is_none")]
    pub used_at: Option<OffsetDateTime>,
}

/// Why a code exchange or a rotation wrote nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    Done,
    /// The code or token was used already (possibly by a concurrent request).
    AlreadyUsed,
    /// The grant was revoked, the family revoked, or the code expired.
    Revoked,
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Dynamo { operation: "build", detail: e.to_string(), retryable: false }
}

fn key(org_id: &str, sk: String) -> std::collections::HashMap<String, AttributeValue> {
    [(PK.to_owned(), s(keys::org(org_id))), (SK.to_owned(), s(sk))].into_iter().collect()
}

fn grant_sk(user_id: &str, client_id: &str) -> String {
    format!("{GRANT}{user_id}#{client_id}")
}

/// The first condition that failed in a cancelled transaction, by index.
fn failed_index<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<usize> {
    let SdkError::ServiceError(service) = err else { return None };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else { return None };
    cancelled.cancellation_reasons().iter().position(|r| r.code() == Some("ConditionalCheckFailed"))
}

/// OAuth apps, codes, grants and refresh tokens.
pub struct OAuthRepository<'a> {
    store: &'a Store,
}

impl<'a> OAuthRepository<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, org_id: &str, sk: String) -> Result<Option<T>, StoreError> {
        self.store.get_consistent(keys::org(org_id), sk).await
    }

    /// Deletes an item if it exists; `false` when there was none.
    async fn delete_existing(&self, org_id: &str, sk: String) -> Result<bool, StoreError> {
        let result = self
            .store
            .client()
            .delete_item()
            .table_name(self.store.table())
            .set_key(Some(key(org_id, sk)))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(err) => Err(StoreError::dynamo("DeleteItem", err)),
        }
    }

    /// One page of items whose sort key starts with `prefix`, in sort-key order.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        org_id: &str,
        prefix: String,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<T>, StoreError> {
        self.store.query_prefix_page(keys::org(org_id), prefix, start, limit).await
    }

    // --- apps ---

    pub async fn insert_app(&self, app: &OAuthApp) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(app)?;
        item.insert(PK.into(), s(keys::org(&app.org_id)));
        item.insert(SK.into(), s(format!("{APP}{}", app.client_id)));
        item.insert(ENTITY.into(), s("oauth_app"));
        self.store.put_new(item).await
    }

    pub async fn get_app(&self, org_id: &str, client_id: &str) -> Result<Option<OAuthApp>, StoreError> {
        self.get(org_id, format!("{APP}{client_id}")).await
    }

    pub async fn list_apps(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<OAuthApp>, StoreError> {
        self.list(org_id, APP.to_owned(), start, limit).await
    }

    /// Which of `client_ids` still name a registered app: one `BatchGetItem` (client ids
    /// name their organization), retrying keys DynamoDB leaves unprocessed.
    pub async fn existing_apps(&self, client_ids: &[String]) -> Result<HashSet<String>, StoreError> {
        const ATTEMPTS: usize = 5;
        let mut found = HashSet::new();
        // BatchGetItem refuses duplicate keys.
        let distinct: std::collections::BTreeSet<&String> = client_ids.iter().collect();
        let mut keys: Vec<_> = distinct
            .into_iter()
            .filter_map(|id| {
                let owner = credentials::parse(Kind::ClientId, id)?;
                Some(key(&owner.org_id, format!("{APP}{id}")))
            })
            .collect();
        for _ in 0..ATTEMPTS {
            if keys.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .projection_expression("client_id")
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            let output = self
                .store
                .client()
                .batch_get_item()
                .request_items(self.store.table(), request)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("BatchGetItem", e))?;
            let items = output.responses.and_then(|mut r| r.remove(self.store.table())).unwrap_or_default();
            for item in items {
                found.insert(shared::store::string_attr(&item, "client_id")?.to_owned());
            }
            keys = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(self.store.table()))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if keys.is_empty() {
            Ok(found)
        } else {
            Err(StoreError::Dynamo {
                operation: "BatchGetItem",
                detail: "keys left unprocessed".into(),
                retryable: true,
            })
        }
    }

    /// Deletes an app. Its refresh tokens die with it: the token endpoint no longer
    /// authenticates the client.
    pub async fn delete_app(&self, org_id: &str, client_id: &str) -> Result<bool, StoreError> {
        self.delete_existing(org_id, format!("{APP}{client_id}")).await
    }

    // --- grants and codes ---

    /// Records the user's consent (adding `scopes` to any earlier one) and returns the grant.
    pub async fn approve(
        &self,
        org_id: &str,
        user_id: &str,
        client_id: &str,
        app_name: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<Grant, StoreError> {
        let output = self
            .store
            .client()
            .update_item()
            .table_name(self.store.table())
            .set_key(Some(key(org_id, grant_sk(user_id, client_id))))
            .update_expression(
                "SET grant_id = if_not_exists(grant_id, :gid), created_at = if_not_exists(created_at, :now), \
                 updated_at = :now, client_id = :cid, app_name = :name, user_id = :uid, #entity = :entity \
                 ADD scopes :scopes",
            )
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_values(":gid", s(shared::domain::ids::new("grant")))
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":cid", s(client_id))
            .expression_attribute_values(":name", s(app_name))
            .expression_attribute_values(":uid", s(user_id))
            .expression_attribute_values(":entity", s("oauth_grant"))
            .expression_attribute_values(":scopes", AttributeValue::Ss(scopes.to_vec()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        let item = output.attributes.ok_or(StoreError::MissingAttribute("grant"))?;
        Ok(serde_dynamo::from_item(item)?)
    }

    pub async fn list_grants(
        &self,
        org_id: &str,
        user_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Grant>, StoreError> {
        self.list(org_id, format!("{GRANT}{user_id}#"), start, limit).await
    }

    /// Revokes a user's grant; every code and refresh token issued under it stops working.
    pub async fn revoke_grant(&self, org_id: &str, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
        self.delete_existing(org_id, grant_sk(user_id, client_id)).await
    }

    pub async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(code)?;
        item.insert(PK.into(), s(keys::org(&code.grantor.org_id)));
        item.insert(SK.into(), s(format!("{CODE}{}", code.id)));
        item.insert(ENTITY.into(), s("oauth_code"));
        self.store.put_new(item).await
    }

    pub async fn get_code(&self, org_id: &str, code_id: &str) -> Result<Option<AuthorizationCode>, StoreError> {
        self.get(org_id, format!("{CODE}{code_id}")).await
    }

    // --- refresh tokens ---

    pub async fn get_refresh_token(&self, org_id: &str, token_id: &str) -> Result<Option<RefreshToken>, StoreError> {
        self.get(org_id, format!("{REFRESH}{token_id}")).await
    }

    fn put_refresh(&self, token: &RefreshToken) -> Result<Put, StoreError> {
        let mut item: Item = serde_dynamo::to_item(token)?;
        item.insert(PK.into(), s(keys::org(&token.grantor.org_id)));
        item.insert(SK.into(), s(format!("{REFRESH}{}", token.id)));
        item.insert(ENTITY.into(), s("oauth_refresh_token"));
        Put::builder()
            .table_name(self.store.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_err)
    }

    /// The transaction item that marks a code or token used, if it is unused and unexpired.
    fn mark_used(&self, org_id: &str, sk: String, now: OffsetDateTime) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(key(org_id, sk)))
            .update_expression("SET used_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(used_at) AND #exp > :epoch")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":epoch", n(now.unix_timestamp()))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The transaction item that requires the grant to still be the one a code or token
    /// (`grantor`, `client_id`, `grant_id`) was issued under.
    fn grant_unchanged(
        &self,
        grantor: &Grantor,
        client_id: &str,
        grant_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.store.table())
            .set_key(Some(key(&grantor.org_id, grant_sk(&grantor.user_id, client_id))))
            .condition_expression("grant_id = :gid")
            .expression_attribute_values(":gid", s(grant_id))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Redeemed, StoreError> {
        let result = self.store.client().transact_write_items().set_transact_items(Some(items)).send().await;
        match result {
            Ok(_) => Ok(Redeemed::Done),
            Err(err) => match failed_index(&err) {
                Some(0) => Ok(Redeemed::AlreadyUsed),
                Some(_) => Ok(Redeemed::Revoked),
                None => Err(StoreError::dynamo("TransactWriteItems", err)),
            },
        }
    }

    /// Exchanges a code, in one transaction: marks it used, starts its token family and
    /// stores the first refresh token, provided the grant still stands.
    pub async fn redeem_code(
        &self,
        code: &AuthorizationCode,
        first: &RefreshToken,
        now: OffsetDateTime,
    ) -> Result<Redeemed, StoreError> {
        let org_id = &code.grantor.org_id;
        let mut family: Item = Item::new();
        family.insert(PK.into(), s(keys::org(org_id)));
        family.insert(SK.into(), s(format!("{FAMILY}{}", code.id)));
        family.insert(ENTITY.into(), s("oauth_token_family"));
        family.insert("client_id".into(), s(&code.client_id));
        family.insert("created_at".into(), s(time_format::format(now)));
        family.insert(EXPIRES_AT.into(), n(first.expires_at));
        let family = Put::builder()
            .table_name(self.store.table())
            .set_item(Some(family))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_err)?;
        let items = vec![
            self.mark_used(org_id, format!("{CODE}{}", code.id), now)?,
            self.grant_unchanged(&code.grantor, &code.client_id, &code.grant_id)?,
            TransactWriteItem::builder().put(family).build(),
            TransactWriteItem::builder().put(self.put_refresh(first)?).build(),
        ];
        self.transact(items).await
    }

    /// Rotates a refresh token, in one transaction: marks it used and stores its
    /// successor, provided its family is not revoked and its grant still stands.
    pub async fn rotate(
        &self,
        used: &RefreshToken,
        next: &RefreshToken,
        now: OffsetDateTime,
    ) -> Result<Redeemed, StoreError> {
        let org_id = &used.grantor.org_id;
        let family = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(key(org_id, format!("{FAMILY}{}", used.family_id))))
            .update_expression("SET #exp = :exp")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":exp", n(next.expires_at))
            .build()
            .map_err(build_err)?;
        let items = vec![
            self.mark_used(org_id, format!("{REFRESH}{}", used.id), now)?,
            TransactWriteItem::builder().update(family).build(),
            self.grant_unchanged(&used.grantor, &used.client_id, &used.grant_id)?,
            TransactWriteItem::builder().put(self.put_refresh(next)?).build(),
        ];
        self.transact(items).await
    }

    /// Revokes every refresh token of a family (after a code or token was replayed).
    pub async fn revoke_family(
        &self,
        org_id: &str,
        family_id: &str,
        now: OffsetDateTime,
        keep_until: i64,
    ) -> Result<(), StoreError> {
        self.store
            .client()
            .update_item()
            .table_name(self.store.table())
            .set_key(Some(key(org_id, format!("{FAMILY}{family_id}"))))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now), #entity = :entity, #exp = :exp")
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":entity", s("oauth_token_family"))
            .expression_attribute_values(":exp", n(keep_until))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        Ok(())
    }
}
