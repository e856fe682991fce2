//! The identity items of the single table, and the only code here that touches
//! `AttributeValue`. Access patterns and keys: `shared/src/store/README.md`.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | organization | `ORG#<org>` | `ORGANIZATION` |
//! | user | `ORG#<org>` | `USER#<user_id>` |
//! | email claim | `EMAIL#<lower(email)>` | `EMAIL` |
//! | session (refresh-token family) | `ORG#<org>` | `SESSION#<family_id>` |
//! | refresh / one-time token | `ORG#<org>` | `TOKEN#<KIND>#<sha256>` |
//! | failed logins per source IP | `LOGINIP#<ip>` | `WINDOW#<window start>` |
//! | message for the bus (`shared::store::events`) | `ORG#<org>` | `OUTBOX#<event_id>` |

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use shared::http::pagination::PageKey;
use shared::store::keys::{self, ENTITY, EXPIRES_AT, PK, SK};
use shared::store::page::Page;
use shared::store::{Item, Store, StoreError, n, s, update_if};

use crate::accounts::model::{Organization, User};
use crate::accounts::opaque::TokenKind;

const ORGANIZATION_SK: &str = "ORGANIZATION";
const USER_PREFIX: &str = "USER#";
const EMAIL_SK: &str = "EMAIL";

fn user_sk(id: &str) -> String {
    format!("{USER_PREFIX}{id}")
}

fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}

fn session_sk(family_id: &str) -> String {
    format!("SESSION#{family_id}")
}

fn token_sk(kind: TokenKind, digest: &str) -> String {
    format!("TOKEN#{}#{digest}", kind.key_name())
}

fn login_ip_pk(ip: &str) -> String {
    format!("LOGINIP#{ip}")
}

/// Who owns an email address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailClaim {
    pub email: String,
    pub org_id: String,
    pub user_id: String,
}

/// A login session: the family of refresh tokens that descend from one login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub family_id: String,
    pub org_id: String,
    pub user_id: String,
    /// Epoch seconds.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Epoch seconds; the absolute end of the session (and the item's TTL).
    pub expires_at: i64,
}

/// A refresh token or a one-time token, stored by digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub digest: String,
    pub org_id: String,
    pub user_id: String,
    /// Refresh tokens: the session they belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// Epoch seconds (and the TTL).
    pub expires_at: i64,
    /// Refresh tokens: when this one was exchanged for its successor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<i64>,
    /// MFA challenges: wrong codes tried so far.
    #[serde(default)]
    pub attempts: u32,
}

/// The outcome of a conditional write to an existing user.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Done,
    Missing,
    VersionMismatch,
    /// The write would leave the organization without an owner.
    LastOwner,
}

/// The outcome of creating a user.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    Done,
    EmailTaken,
    /// The organization does not exist (or already existed, for a new organization).
    OrganizationConflict,
}

/// The outcome of exchanging a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    Done,
    /// The token was already exchanged: a replay.
    Reused,
    /// The session was revoked meanwhile.
    Revoked,
}

/// What consuming a one-time token changes on its user, in the same transaction.
#[derive(Debug)]
pub enum UserChange {
    PasswordReset { password_hash: String, at: i64 },
    EmailVerified,
    MfaStep(u64),
}

/// The identity repository.
pub struct AccountStore<'a> {
    store: &'a Store,
}

/// Which items of a cancelled transaction failed their condition; `None` when the
/// failure was something else.
fn failed_conditions<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<bool>> {
    let SdkError::ServiceError(service) = err else { return None };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else { return None };
    let failed: Vec<bool> =
        cancelled.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect();
    failed.iter().any(|f| *f).then_some(failed)
}

/// Attempts at a transaction that keeps conflicting with concurrent ones.
const TRANSACTION_ATTEMPTS: usize = 4;

fn is_transaction_conflict<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    let SdkError::ServiceError(service) = err else { return false };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else { return false };
    cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"))
}

/// A counter attribute of `item`; 0 when the item or the attribute is missing.
fn count_attr(item: Option<&Item>, name: &str) -> u32 {
    item.and_then(|i| i.get(name)).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn build<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Dynamo { operation: "build", detail: e.to_string(), retryable: false })
}

fn user_item(user: &User) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(user)?;
    item.insert(PK.into(), s(keys::org(&user.org_id)));
    item.insert(SK.into(), s(user_sk(&user.id)));
    item.insert(ENTITY.into(), s("user"));
    Ok(item)
}

fn email_item(user: &User) -> Result<Item, StoreError> {
    let claim = EmailClaim { email: user.email.clone(), org_id: user.org_id.clone(), user_id: user.id.clone() };
    let mut item: Item = serde_dynamo::to_item(&claim)?;
    item.insert(PK.into(), s(email_pk(&user.email)));
    item.insert(SK.into(), s(EMAIL_SK));
    item.insert(ENTITY.into(), s("email"));
    Ok(item)
}

fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder().table_name(table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)").build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl<'a> AccountStore<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    fn table(&self) -> &str {
        self.store.table()
    }

    /// An `UpdateItem` of the user's item, its expressions still to be set.
    fn update_user_item(&self, user: &User) -> UpdateItemFluentBuilder {
        self.store
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::org(&user.org_id)))
            .key(SK, s(user_sk(&user.id)))
    }

    /// Runs a transaction; `Some(failed)` names the items whose condition failed. A
    /// transaction that lost a race with another one on the same items (a
    /// `TransactionConflict`, no condition failed) is retried: its conditions are
    /// evaluated afresh.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Option<Vec<bool>>, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result =
                self.store.client().transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match result {
                Ok(_) => return Ok(None),
                Err(err) => err,
            };
            if let Some(failed) = failed_conditions(&err) {
                return Ok(Some(failed));
            }
            if attempt < TRANSACTION_ATTEMPTS && is_transaction_conflict(&err) {
                continue;
            }
            let mut error = StoreError::dynamo("TransactWriteItems", err);
            if let StoreError::Dynamo { retryable, detail, .. } = &mut error {
                *retryable |= detail.contains("TransactionConflict");
            }
            return Err(error);
        }
    }

    /// Creates an organization with its first owner and the owner's email claim, in one
    /// transaction.
    pub async fn create_organization(&self, org: &Organization, owner: &User) -> Result<Created, StoreError> {
        let mut org_item: Item = serde_dynamo::to_item(org)?;
        org_item.insert(PK.into(), s(keys::org(&org.id)));
        org_item.insert(SK.into(), s(ORGANIZATION_SK));
        org_item.insert(ENTITY.into(), s("organization"));
        let items = vec![
            put_new(self.table(), email_item(owner)?)?,
            put_new(self.table(), org_item)?,
            put_new(self.table(), user_item(owner)?)?,
        ];
        Ok(match self.transact(items).await? {
            None => Created::Done,
            Some(failed) if failed.first() == Some(&true) => Created::EmailTaken,
            Some(_) => Created::OrganizationConflict,
        })
    }

    /// The update of the organization's owner counter that goes with a change of
    /// `delta` owners; a decrement is refused when it would leave none.
    fn owner_count_update(&self, org_id: &str, delta: i32) -> Result<TransactWriteItem, StoreError> {
        let builder = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(ORGANIZATION_SK))
            .expression_attribute_values(":d", n(delta.unsigned_abs()));
        let update = if delta < 0 {
            builder.update_expression("SET owner_count = owner_count - :d").condition_expression("owner_count > :d")
        } else {
            builder.update_expression("SET owner_count = owner_count + :d").condition_expression("attribute_exists(PK)")
        };
        Ok(TransactWriteItem::builder().update(build(update.build())?).build())
    }

    /// Adds a user (and its email claim) to an existing organization; an owner also
    /// raises the owner counter, in the same transaction.
    pub async fn create_user(&self, user: &User) -> Result<Created, StoreError> {
        let mut items = vec![put_new(self.table(), email_item(user)?)?, put_new(self.table(), user_item(user)?)?];
        if user.counts_as_owner() {
            items.push(self.owner_count_update(&user.org_id, 1)?);
        } else {
            let check = ConditionCheck::builder()
                .table_name(self.table())
                .key(PK, s(keys::org(&user.org_id)))
                .key(SK, s(ORGANIZATION_SK))
                .condition_expression("attribute_exists(PK)")
                .build();
            items.push(TransactWriteItem::builder().condition_check(build(check)?).build());
        }
        Ok(match self.transact(items).await? {
            None => Created::Done,
            Some(failed) if failed.first() == Some(&true) => Created::EmailTaken,
            Some(_) => Created::OrganizationConflict,
        })
    }

    pub async fn email_claim(&self, email: &str) -> Result<Option<EmailClaim>, StoreError> {
        self.store.get_consistent(email_pk(email), EMAIL_SK.to_owned()).await
    }

    pub async fn get_user(&self, org_id: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        if !shared::domain::ids::is_valid(user_id, "user") {
            return Ok(None);
        }
        self.store.get_consistent(keys::org(org_id), user_sk(user_id)).await
    }

    pub async fn get_organization(&self, org_id: &str) -> Result<Option<Organization>, StoreError> {
        self.store.get_consistent(keys::org(org_id), ORGANIZATION_SK.to_owned()).await
    }

    /// One page of the organization's users, oldest first (one `Query`).
    pub async fn list_users(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<User>, StoreError> {
        self.store.query_prefix_page(keys::org(org_id), USER_PREFIX, start, limit).await
    }

    /// Replaces a user if its stored version is still `expected`; `owner_delta` moves the
    /// owner counter in the same transaction (refused if it would reach zero).
    pub async fn replace_user(&self, next: &User, expected: u64, owner_delta: i32) -> Result<Written, StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(user_item(next)?))
            .condition_expression("attribute_exists(PK) AND version = :v")
            .expression_attribute_values(":v", n(expected))
            .build();
        let mut items = vec![TransactWriteItem::builder().put(build(put)?).build()];
        if owner_delta != 0 {
            items.push(self.owner_count_update(&next.org_id, owner_delta)?);
        }
        Ok(match self.transact(items).await? {
            None => Written::Done,
            Some(failed) if failed.first() == Some(&true) => Written::VersionMismatch,
            Some(_) => Written::LastOwner,
        })
    }

    /// Deletes a user at version `expected`, with its email claim; an owner also lowers
    /// the owner counter, refused if it would reach zero.
    pub async fn delete_user(&self, user: &User, expected: u64) -> Result<Written, StoreError> {
        let delete_user = Delete::builder()
            .table_name(self.table())
            .key(PK, s(keys::org(&user.org_id)))
            .key(SK, s(user_sk(&user.id)))
            .condition_expression("attribute_exists(PK) AND version = :v")
            .expression_attribute_values(":v", n(expected))
            .build();
        let delete_email = Delete::builder()
            .table_name(self.table())
            .key(PK, s(email_pk(&user.email)))
            .key(SK, s(EMAIL_SK))
            .condition_expression("user_id = :u")
            .expression_attribute_values(":u", s(&user.id))
            .build();
        let mut items = vec![
            TransactWriteItem::builder().delete(build(delete_user)?).build(),
            TransactWriteItem::builder().delete(build(delete_email)?).build(),
        ];
        if user.counts_as_owner() {
            items.push(self.owner_count_update(&user.org_id, -1)?);
        }
        Ok(match self.transact(items).await? {
            None => Written::Done,
            Some(failed) if failed.first() == Some(&true) => Written::VersionMismatch,
            Some(failed) if failed.get(1) == Some(&true) => Written::Missing,
            Some(_) => Written::LastOwner,
        })
    }

    /// Counts a failed sign-in (atomic `ADD`); at `max` the account is locked until
    /// `lock_until` and the count starts again.
    pub async fn record_login_failure(&self, user: &User, max: u32, lock_until: i64) -> Result<(), StoreError> {
        let request = self
            .update_user_item(user)
            .update_expression("ADD failed_logins :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew);
        let Some(output) = update_if(request).await? else { return Ok(()) };
        let count = count_attr(output.attributes.as_ref(), "failed_logins");
        if count < max {
            return Ok(());
        }
        // Only the request that reached the limit locks; a concurrent one that counted
        // past it finds the counter already reset and does nothing.
        let request = self
            .update_user_item(user)
            .update_expression("SET locked_until = :until, failed_logins = :zero")
            .condition_expression("failed_logins >= :max")
            .expression_attribute_values(":until", n(lock_until))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":max", n(max));
        update_if(request).await?;
        Ok(())
    }

    /// Failed sign-ins from `ip` in the window starting at `window_start`.
    pub async fn ip_failures(&self, ip: &str, window_start: i64) -> Result<u32, StoreError> {
        let item = self.store.get_item_consistent(login_ip_pk(ip), format!("WINDOW#{window_start}")).await?;
        Ok(count_attr(item.as_ref(), "failures"))
    }

    /// Counts a failed sign-in from `ip` (atomic `ADD`, expiring with the window).
    pub async fn add_ip_failure(&self, ip: &str, window_start: i64, expires_at: i64) -> Result<(), StoreError> {
        self.store
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(login_ip_pk(ip)))
            .key(SK, s(format!("WINDOW#{window_start}")))
            .update_expression("ADD failures :one SET #exp = :exp, #entity = :entity")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":entity", s("login_ip_window"))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", e))?;
        Ok(())
    }

    fn token_item(&self, kind: TokenKind, record: &TokenRecord) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(record)?;
        item.insert(PK.into(), s(keys::org(&record.org_id)));
        item.insert(SK.into(), s(token_sk(kind, &record.digest)));
        item.insert(ENTITY.into(), s(format!("token_{}", kind.key_name().to_lowercase())));
        Ok(item)
    }

    /// Starts a session with its first refresh token; a successful sign-in also clears
    /// the user's failure counter, in the same transaction.
    pub async fn start_session(
        &self,
        session: &Session,
        refresh: &TokenRecord,
        clear_failures: bool,
    ) -> Result<(), StoreError> {
        let mut session_item: Item = serde_dynamo::to_item(session)?;
        session_item.insert(PK.into(), s(keys::org(&session.org_id)));
        session_item.insert(SK.into(), s(session_sk(&session.family_id)));
        session_item.insert(ENTITY.into(), s("session"));
        let mut items = vec![
            put_new(self.table(), session_item)?,
            put_new(self.table(), self.token_item(TokenKind::Refresh, refresh)?)?,
        ];
        if clear_failures {
            let update = Update::builder()
                .table_name(self.table())
                .key(PK, s(keys::org(&session.org_id)))
                .key(SK, s(user_sk(&session.user_id)))
                .update_expression("SET failed_logins = :zero REMOVE locked_until")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":zero", n(0))
                .build();
            items.push(TransactWriteItem::builder().update(build(update)?).build());
        }
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(StoreError::Dynamo {
                operation: "TransactWriteItems",
                detail: "session start conflicted (user deleted meanwhile or id collision)".into(),
                retryable: false,
            }),
        }
    }

    pub async fn get_session(&self, org_id: &str, family_id: &str) -> Result<Option<Session>, StoreError> {
        self.store.get_consistent(keys::org(org_id), session_sk(family_id)).await
    }

    pub async fn get_token(
        &self,
        kind: TokenKind,
        org_id: &str,
        digest: &str,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.store.get_consistent(keys::org(org_id), token_sk(kind, digest)).await
    }

    /// Stores a one-time token.
    pub async fn put_token(&self, kind: TokenKind, record: &TokenRecord) -> Result<(), StoreError> {
        self.store.put_new(self.token_item(kind, record)?).await
    }

    /// Exchanges a refresh token for its successor: the old one is marked used only if it
    /// was not used before and its session is not revoked, in one transaction with the
    /// new one's creation.
    pub async fn rotate_refresh(&self, old: &TokenRecord, new: &TokenRecord, now: i64) -> Result<Rotation, StoreError> {
        let family = old.family_id.clone().unwrap_or_default();
        let mark_used = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::org(&old.org_id)))
            .key(SK, s(token_sk(TokenKind::Refresh, &old.digest)))
            .update_expression("SET rotated_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(rotated_at)")
            .expression_attribute_values(":now", n(now))
            .build();
        let session_live = ConditionCheck::builder()
            .table_name(self.table())
            .key(PK, s(keys::org(&old.org_id)))
            .key(SK, s(session_sk(&family)))
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
            .build();
        let items = vec![
            TransactWriteItem::builder().update(build(mark_used)?).build(),
            TransactWriteItem::builder().condition_check(build(session_live)?).build(),
            put_new(self.table(), self.token_item(TokenKind::Refresh, new)?)?,
        ];
        Ok(match self.transact(items).await? {
            None => Rotation::Done,
            Some(failed) if failed.first() == Some(&true) => Rotation::Reused,
            Some(_) => Rotation::Revoked,
        })
    }

    /// Revokes a session: none of its refresh tokens works any more.
    pub async fn revoke_session(&self, org_id: &str, family_id: &str, now: i64) -> Result<(), StoreError> {
        let request = self
            .store
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(keys::org(org_id)))
            .key(SK, s(session_sk(family_id)))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", n(now));
        update_if(request).await?;
        Ok(())
    }

    /// Consumes a one-time token (only once, only before it expires) and applies its
    /// change to the user, in one transaction. `false` when the token was already used,
    /// has expired, or (for MFA) the code's time step was already accepted.
    pub async fn consume_token(
        &self,
        kind: TokenKind,
        record: &TokenRecord,
        change: UserChange,
        now: i64,
    ) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .key(PK, s(keys::org(&record.org_id)))
            .key(SK, s(token_sk(kind, &record.digest)))
            .condition_expression("attribute_exists(PK) AND #exp > :now")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", n(now))
            .build();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let (expression, condition) = match change {
            UserChange::PasswordReset { password_hash, at } => {
                values.insert(":hash".into(), s(password_hash));
                values.insert(":at".into(), n(at));
                values.insert(":zero".into(), n(0));
                values.insert(":one".into(), n(1));
                (
                    "SET password_hash = :hash, sessions_valid_after = :at, failed_logins = :zero, version = version + :one REMOVE locked_until",
                    "attribute_exists(PK)",
                )
            }
            UserChange::EmailVerified => {
                values.insert(":yes".into(), AttributeValue::Bool(true));
                ("SET email_verified = :yes", "attribute_exists(PK)")
            }
            UserChange::MfaStep(step) => {
                values.insert(":step".into(), n(step));
                (
                    "SET mfa_last_step = :step",
                    "attribute_exists(PK) AND (attribute_not_exists(mfa_last_step) OR mfa_last_step < :step)",
                )
            }
        };
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::org(&record.org_id)))
            .key(SK, s(user_sk(&record.user_id)))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .build();
        let items = vec![
            TransactWriteItem::builder().delete(build(delete)?).build(),
            TransactWriteItem::builder().update(build(update)?).build(),
        ];
        Ok(self.transact(items).await?.is_none())
    }

    /// Counts a wrong code against an MFA challenge; at `max` the challenge is deleted.
    pub async fn fail_mfa_challenge(&self, record: &TokenRecord, max: u32) -> Result<(), StoreError> {
        let key = (s(keys::org(&record.org_id)), s(token_sk(TokenKind::MfaChallenge, &record.digest)));
        let request = self
            .store
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, key.0.clone())
            .key(SK, key.1.clone())
            .update_expression("ADD attempts :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew);
        let Some(output) = update_if(request).await? else { return Ok(()) };
        let attempts = count_attr(output.attributes.as_ref(), "attempts");
        if attempts >= max {
            self.store
                .client()
                .delete_item()
                .table_name(self.table())
                .key(PK, key.0)
                .key(SK, key.1)
                .send()
                .await
                .map_err(|e| StoreError::dynamo("DeleteItem", e))?;
        }
        Ok(())
    }

    /// Stores a TOTP secret awaiting confirmation.
    pub async fn set_pending_mfa(&self, user: &User, secret: &str) -> Result<bool, StoreError> {
        let request = self
            .update_user_item(user)
            .update_expression("SET mfa_pending_secret = :secret")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":secret", s(secret));
        Ok(update_if(request).await?.is_some())
    }

    /// Turns the pending TOTP secret into the active one, if it is still the one the
    /// code was checked against.
    pub async fn confirm_mfa(&self, user: &User, secret: &str, step: u64) -> Result<bool, StoreError> {
        let request = self
            .update_user_item(user)
            .update_expression(
                "SET mfa_secret = :secret, mfa_enabled = :yes, mfa_last_step = :step, version = version + :one REMOVE mfa_pending_secret",
            )
            .condition_expression("mfa_pending_secret = :secret")
            .expression_attribute_values(":secret", s(secret))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":one", n(1))
            ;
        Ok(update_if(request).await?.is_some())
    }

    /// Stores a one-time token's digest and, in the same transaction, the outbox
    /// message that carries the token to a mail sender (relayed to the bus only).
    pub async fn put_token_with_message(
        &self,
        kind: TokenKind,
        record: &TokenRecord,
        message: TransactWriteItem,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(self.token_item(kind, record)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(shared::store::transactions::build_err)?;
        match self.transact(vec![TransactWriteItem::builder().put(put).build(), message]).await? {
            None => Ok(()),
            // Both keys are fresh random values; a clash is a fault, not an outcome.
            Some(_) => Err(StoreError::Dynamo {
                operation: "TransactWriteItems",
                detail: "the token or its outbox message already exists".into(),
                retryable: false,
            }),
        }
    }
}
