//! The identity items of the single table, written through the shared store requests.
//! Access patterns and keys: `shared/src/store/README.md`.
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

use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use shared::http::pagination::PageKey;
use shared::store::keys::{self, ENTITY, EXPIRES_AT};
use shared::store::page::Page;
use shared::store::requests::{delete_if_version, entity_item, put_if_new, update_if_version};
use shared::store::transactions::{TransactItem, condition_failed, failed_version, transact, unexpected_cancellation};
use shared::store::{Item, Store, StoreError, boolean, n, s, string_set, update_if};

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

/// The outcome of a write to an existing user conditioned on its version.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The user is gone (or, on a delete, its email claim no longer names it).
    Missing,
    /// Another writer changed the user first.
    VersionMismatch,
    /// The write would leave the organization without an owner.
    LastOwner,
}

/// The outcome of adding a user to an existing organization.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    Done,
    EmailTaken,
    /// The organization does not exist.
    OrganizationMissing,
}

/// The outcome of creating an organization with its first owner.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    Done,
    EmailTaken,
    /// An organization with this id exists already.
    OrganizationExists,
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
    PasswordReset {
        password_hash: String,
        at: i64,
    },
    EmailVerified,
    MfaStep(u64),
    /// A recovery code (its digest) used in place of a TOTP code.
    MfaRecovery(String),
}

/// The identity repository.
pub struct AccountStore<'a> {
    store: &'a Store,
}

fn user_item(user: &User) -> Result<Item, StoreError> {
    entity_item(user, keys::org(&user.org_id), user_sk(&user.id), "user")
}

fn email_item(user: &User) -> Result<Item, StoreError> {
    let claim = EmailClaim { email: user.email.clone(), org_id: user.org_id.clone(), user_id: user.id.clone() };
    entity_item(&claim, email_pk(&user.email), EMAIL_SK.to_owned(), "email")
}

impl<'a> AccountStore<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// A transaction's create of `item`.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        put_if_new(self.store, item)?.transact_item()
    }

    /// Creates an organization with its first owner and the owner's email claim, in one
    /// transaction.
    pub async fn create_organization(&self, org: &Organization, owner: &User) -> Result<Registered, StoreError> {
        let org_item = entity_item(org, keys::org(&org.id), ORGANIZATION_SK.to_owned(), "organization")?;
        let items = vec![self.put_new(email_item(owner)?)?, self.put_new(org_item)?, self.put_new(user_item(owner)?)?];
        Ok(match transact(self.store, items).await? {
            None => Registered::Done,
            Some(failed) if condition_failed(&failed, 0) => Registered::EmailTaken,
            Some(_) => Registered::OrganizationExists,
        })
    }

    /// The update of the organization's owner counter that goes with a change of
    /// `delta` owners; a decrement is refused when it would leave none.
    fn owner_count_update(&self, org_id: &str, delta: i32) -> Result<TransactWriteItem, StoreError> {
        let builder = self
            .store
            .update_in_transaction(keys::org(org_id), ORGANIZATION_SK)
            .expression_attribute_values(":d", n(delta.unsigned_abs()));
        let update = if delta < 0 {
            builder.update_expression("SET owner_count = owner_count - :d").condition_expression("owner_count > :d")
        } else {
            builder.update_expression("SET owner_count = owner_count + :d").condition_expression("attribute_exists(PK)")
        };
        update.transact_item()
    }

    /// Adds a user (and its email claim) to an existing organization; an owner also
    /// raises the owner counter, in the same transaction.
    pub async fn create_user(&self, user: &User) -> Result<Created, StoreError> {
        let mut items = vec![self.put_new(email_item(user)?)?, self.put_new(user_item(user)?)?];
        if user.counts_as_owner() {
            items.push(self.owner_count_update(&user.org_id, 1)?);
        } else {
            let check = self
                .store
                .check_in_transaction(keys::org(&user.org_id), ORGANIZATION_SK)
                .condition_expression("attribute_exists(PK)");
            items.push(check.transact_item()?);
        }
        Ok(match transact(self.store, items).await? {
            None => Created::Done,
            Some(failed) if condition_failed(&failed, 0) => Created::EmailTaken,
            Some(_) => Created::OrganizationMissing,
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

    /// Writes an administrator's edit of a user if its stored version is still `expected`:
    /// only the fields such an edit owns (names, tenant profile, status, roles, extra
    /// permissions, version, `updated_at`). Counters, secrets and one-time state change
    /// through their own conditional updates and are never written back from a stale
    /// read. `owner_delta` moves the owner counter in the same transaction (refused if it
    /// would reach zero).
    pub async fn replace_user(&self, next: &User, expected: u64, owner_delta: i32) -> Result<Written, StoreError> {
        let tenant = if next.tenant_profile_id.is_some() { ", tenant_profile_id = :tenant" } else { "" };
        let mut expression = format!(
            "SET first_name = :first, last_name = :last, #status = :status, #roles = :roles, \
             #permissions = :permissions, version = :next, updated_at = :updated{tenant}"
        );
        if next.tenant_profile_id.is_none() {
            expression.push_str(" REMOVE tenant_profile_id");
        }
        let mut edit = update_if_version(self.store, keys::org(&next.org_id), user_sk(&next.id), expected)
            .update_expression(expression)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_names("#permissions", "permissions")
            .expression_attribute_values(":first", s(&next.first_name))
            .expression_attribute_values(":last", s(&next.last_name))
            .expression_attribute_values(":status", serde_dynamo::to_attribute_value(next.status)?)
            .expression_attribute_values(":roles", serde_dynamo::to_attribute_value(&next.roles)?)
            .expression_attribute_values(":permissions", serde_dynamo::to_attribute_value(&next.permissions)?)
            .expression_attribute_values(":next", n(next.version))
            .expression_attribute_values(":updated", s(shared::time_format::format(next.updated_at)));
        if let Some(tenant) = &next.tenant_profile_id {
            edit = edit.expression_attribute_values(":tenant", s(tenant));
        }
        let mut items = vec![edit.transact_item()?];
        if owner_delta != 0 {
            items.push(self.owner_count_update(&next.org_id, owner_delta)?);
        }
        Ok(match transact(self.store, items).await? {
            None => Written::Done,
            Some(failed) if failed_version(&failed, 0).is_some() => Written::VersionMismatch,
            Some(failed) if condition_failed(&failed, 0) => Written::Missing,
            Some(_) => Written::LastOwner,
        })
    }

    /// Deletes a user at version `expected`, with its email claim; an owner also lowers
    /// the owner counter, refused if it would reach zero.
    pub async fn delete_user(&self, user: &User, expected: u64) -> Result<Written, StoreError> {
        let delete_user = delete_if_version(self.store, keys::org(&user.org_id), user_sk(&user.id), expected);
        let delete_email = self
            .store
            .delete_in_transaction(email_pk(&user.email), EMAIL_SK)
            .condition_expression("user_id = :u")
            .expression_attribute_values(":u", s(&user.id));
        let mut items = vec![delete_user.transact_item()?, delete_email.transact_item()?];
        if user.counts_as_owner() {
            items.push(self.owner_count_update(&user.org_id, -1)?);
        }
        Ok(match transact(self.store, items).await? {
            None => Written::Done,
            Some(failed) if failed_version(&failed, 0).is_some() => Written::VersionMismatch,
            Some(failed) if condition_failed(&failed, 0) || condition_failed(&failed, 1) => Written::Missing,
            Some(_) => Written::LastOwner,
        })
    }

    /// Reserves one sign-in attempt (a password or a second-factor check) on the account
    /// before it is evaluated: counts it as a failure until a success clears the count.
    /// Refused (`None`) when the user is missing, the account is locked, or `max` attempts
    /// are already counted, so concurrent guesses never get more than `max` evaluations.
    /// A count left at `max` by an attempt that never finished stops blocking once
    /// `stale_after` (epoch seconds) has passed since the last reservation.
    pub async fn reserve_attempt(
        &self,
        org_id: &str,
        user_id: &str,
        max: u32,
        now: i64,
        stale_after: i64,
    ) -> Result<Option<User>, StoreError> {
        let request = self
            .store
            .update_item(keys::org(org_id), user_sk(user_id))
            .update_expression("ADD failed_logins :one SET attempted_at = :now")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(locked_until) OR locked_until <= :now) \
                 AND (attribute_not_exists(failed_logins) OR failed_logins < :max OR attempted_at <= :stale)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":stale", n(stale_after))
            .return_values(ReturnValue::AllNew);
        let Some(output) = update_if(request).await? else { return Ok(None) };
        let item = output.attributes.ok_or(StoreError::MissingAttribute("user"))?;
        Ok(Some(serde_dynamo::from_item(item)?))
    }

    /// After a failed attempt that brought the count to `count`: at `max` the account is
    /// locked until `lock_until` and the count starts again. Only the attempt that reached
    /// the limit locks; a concurrent one finds the counter already reset and does nothing.
    pub async fn lock_if_exhausted(
        &self,
        org_id: &str,
        user_id: &str,
        count: u32,
        max: u32,
        lock_until: i64,
    ) -> Result<(), StoreError> {
        if count < max {
            return Ok(());
        }
        let request = self
            .store
            .update_item(keys::org(org_id), user_sk(user_id))
            .update_expression("SET locked_until = :until, failed_logins = :zero")
            .condition_expression("failed_logins >= :max")
            .expression_attribute_values(":until", n(lock_until))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":max", n(max));
        update_if(request).await?;
        Ok(())
    }

    /// Reserves one sign-in attempt from `ip` in the window starting at `window_start`
    /// before the password is checked (atomic `ADD`, expiring with the window). Refused
    /// (`false`) once `max` attempts of the window are counted.
    pub async fn reserve_ip_attempt(
        &self,
        ip: &str,
        window_start: i64,
        expires_at: i64,
        max: u32,
    ) -> Result<bool, StoreError> {
        let request = self
            .store
            .update_item(login_ip_pk(ip), format!("WINDOW#{window_start}"))
            .update_expression("ADD failures :one SET #exp = :exp, #entity = :entity")
            .condition_expression("attribute_not_exists(failures) OR failures < :max")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":entity", s("login_ip_window"));
        Ok(update_if(request).await?.is_some())
    }

    /// Gives back an attempt reserved from `ip` when the sign-in succeeded: the window
    /// counts failures only.
    pub async fn release_ip_attempt(&self, ip: &str, window_start: i64) -> Result<(), StoreError> {
        self.release(login_ip_pk(ip), format!("WINDOW#{window_start}"), "failures").await
    }

    /// Gives back an attempt reserved on the account whose first factor was right while
    /// its second is still to come: the password is not a failure, but it does not clear
    /// the count either (that would give every sign-in fresh second-factor guesses).
    pub async fn release_attempt(&self, org_id: &str, user_id: &str) -> Result<(), StoreError> {
        self.release(keys::org(org_id), user_sk(user_id), "failed_logins").await
    }

    /// Takes one off the counter `attribute` of an item, never below zero.
    async fn release(&self, pk: String, sk: String, attribute: &str) -> Result<(), StoreError> {
        let request = self
            .store
            .update_item(pk, sk)
            .update_expression("ADD #count :minus_one")
            .condition_expression("#count > :zero")
            .expression_attribute_names("#count", attribute)
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0));
        update_if(request).await?;
        Ok(())
    }

    fn token_item(&self, kind: TokenKind, record: &TokenRecord) -> Result<Item, StoreError> {
        let entity = format!("token_{}", kind.key_name().to_lowercase());
        entity_item(record, keys::org(&record.org_id), token_sk(kind, &record.digest), &entity)
    }

    /// Starts a session with its first refresh token; a successful sign-in also clears
    /// the user's failure counter, in the same transaction.
    pub async fn start_session(
        &self,
        session: &Session,
        refresh: &TokenRecord,
        clear_failures: bool,
    ) -> Result<(), StoreError> {
        let session_item = entity_item(session, keys::org(&session.org_id), session_sk(&session.family_id), "session")?;
        let mut items = vec![self.put_new(session_item)?, self.put_new(self.token_item(TokenKind::Refresh, refresh)?)?];
        if clear_failures {
            items.push(self.clear_failures(&session.org_id, &session.user_id)?);
        }
        match transact(self.store, items).await? {
            None => Ok(()),
            Some(_) => {
                Err(unexpected_cancellation("session start conflicted (user deleted meanwhile or id collision)"))
            }
        }
    }

    /// Resets a user's failed sign-ins and lock: a transaction item for a successful sign-in.
    pub fn clear_failures(&self, org_id: &str, user_id: &str) -> Result<TransactWriteItem, StoreError> {
        self.store
            .update_in_transaction(keys::org(org_id), user_sk(user_id))
            .update_expression("SET failed_logins = :zero REMOVE locked_until")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":zero", n(0))
            .transact_item()
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

    /// Exchanges a refresh token for its successor: the old one is marked used only if it
    /// was not used before and its session is not revoked, in one transaction with the
    /// new one's creation.
    pub async fn rotate_refresh(&self, old: &TokenRecord, new: &TokenRecord, now: i64) -> Result<Rotation, StoreError> {
        let family = old.family_id.clone().unwrap_or_default();
        let mark_used = self
            .store
            .update_in_transaction(keys::org(&old.org_id), token_sk(TokenKind::Refresh, &old.digest))
            .update_expression("SET rotated_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(rotated_at)")
            .expression_attribute_values(":now", n(now));
        let session_live = self
            .store
            .check_in_transaction(keys::org(&old.org_id), session_sk(&family))
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)");
        let items = vec![
            mark_used.transact_item()?,
            session_live.transact_item()?,
            self.put_new(self.token_item(TokenKind::Refresh, new)?)?,
        ];
        Ok(match transact(self.store, items).await? {
            None => Rotation::Done,
            Some(failed) if condition_failed(&failed, 0) => Rotation::Reused,
            Some(_) => Rotation::Revoked,
        })
    }

    /// Revokes a session: none of its refresh tokens works any more.
    pub async fn revoke_session(&self, org_id: &str, family_id: &str, now: i64) -> Result<(), StoreError> {
        let request = self
            .store
            .update_item(keys::org(org_id), session_sk(family_id))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":now", n(now));
        update_if(request).await?;
        Ok(())
    }

    /// Consumes a one-time token (only once, only before it expires) and applies its
    /// change to the user, in one transaction. `false` when the token was already used,
    /// has expired, is no longer the user's current one (reset, MFA), or (for MFA) the
    /// code's time step was already accepted.
    pub async fn consume_token(
        &self,
        kind: TokenKind,
        record: &TokenRecord,
        change: UserChange,
        now: i64,
    ) -> Result<bool, StoreError> {
        let delete = self
            .store
            .delete_in_transaction(keys::org(&record.org_id), token_sk(kind, &record.digest))
            .condition_expression("attribute_exists(PK) AND #exp > :now")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", n(now));
        let user = self.store.update_in_transaction(keys::org(&record.org_id), user_sk(&record.user_id));
        let update = match change {
            UserChange::PasswordReset { password_hash, at } => user
                .update_expression(
                    "SET password_hash = :hash, sessions_valid_after = :at, failed_logins = :zero, version = version + :one REMOVE locked_until, reset_token",
                )
                .condition_expression("reset_token = :token")
                .expression_attribute_values(":token", s(&record.digest))
                .expression_attribute_values(":hash", s(password_hash))
                .expression_attribute_values(":at", n(at))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1)),
            UserChange::EmailVerified => user
                .update_expression("SET email_verified = :yes")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":yes", boolean(true)),
            UserChange::MfaStep(step) => user
                .update_expression("SET mfa_last_step = :step REMOVE mfa_challenge")
                .condition_expression(
                    "mfa_challenge = :challenge AND (attribute_not_exists(mfa_last_step) OR mfa_last_step < :step)",
                )
                .expression_attribute_values(":challenge", s(&record.digest))
                .expression_attribute_values(":step", n(step)),
            UserChange::MfaRecovery(code) => user
                .update_expression("DELETE mfa_recovery_codes :used REMOVE mfa_challenge")
                .condition_expression("mfa_challenge = :challenge AND contains(mfa_recovery_codes, :code)")
                .expression_attribute_values(":challenge", s(&record.digest))
                .expression_attribute_values(":used", string_set(vec![code.clone()]))
                .expression_attribute_values(":code", s(code)),
        };
        let items = vec![delete.transact_item()?, update.transact_item()?];
        Ok(transact(self.store, items).await?.is_none())
    }

    /// A transaction's update that makes `record` its user's only valid token of a kind:
    /// the user's `attribute` names its digest, replacing any earlier one.
    fn make_current(&self, record: &TokenRecord, attribute: &str) -> Result<TransactWriteItem, StoreError> {
        self.store
            .update_in_transaction(keys::org(&record.org_id), user_sk(&record.user_id))
            .update_expression("SET #current = :digest")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#current", attribute)
            .expression_attribute_values(":digest", s(&record.digest))
            .transact_item()
    }

    /// Issues an MFA challenge: stores it and makes it the user's only outstanding one
    /// (an earlier challenge stops working), in one transaction.
    pub async fn start_mfa_challenge(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let items = vec![
            self.put_new(self.token_item(TokenKind::MfaChallenge, record)?)?,
            self.make_current(record, "mfa_challenge")?,
        ];
        match transact(self.store, items).await? {
            None => Ok(()),
            Some(_) => {
                Err(unexpected_cancellation("MFA challenge conflicted (user deleted meanwhile or id collision)"))
            }
        }
    }

    /// Reserves one code check on an MFA challenge before the code is looked at: refused
    /// (`false`) once `max` checks were reserved, or when the challenge is gone or expired.
    pub async fn reserve_challenge_attempt(
        &self,
        record: &TokenRecord,
        max: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let request = self
            .store
            .update_item(keys::org(&record.org_id), token_sk(TokenKind::MfaChallenge, &record.digest))
            .update_expression("ADD attempts :one")
            .condition_expression("attribute_exists(PK) AND attempts < :max AND #exp > :now")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":now", n(now));
        Ok(update_if(request).await?.is_some())
    }

    /// Stores a TOTP secret awaiting confirmation.
    pub async fn set_pending_mfa(&self, user: &User, secret: &str) -> Result<bool, StoreError> {
        let request = self
            .store
            .update_item(keys::org(&user.org_id), user_sk(&user.id))
            .update_expression("SET mfa_pending_secret = :secret")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":secret", s(secret));
        Ok(update_if(request).await?.is_some())
    }

    /// Turns the pending TOTP secret into the active one, if it is still the one the
    /// code was checked against, with a new set of recovery code digests.
    pub async fn confirm_mfa(
        &self,
        user: &User,
        secret: &str,
        step: u64,
        recovery_codes: Vec<String>,
    ) -> Result<bool, StoreError> {
        let request = self
            .store
            .update_item(keys::org(&user.org_id), user_sk(&user.id))
            .update_expression(
                "SET mfa_secret = :secret, mfa_enabled = :yes, mfa_last_step = :step, mfa_recovery_codes = :codes, \
                 version = version + :one REMOVE mfa_pending_secret",
            )
            .condition_expression("mfa_pending_secret = :secret")
            .expression_attribute_values(":secret", s(secret))
            .expression_attribute_values(":yes", boolean(true))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":codes", string_set(recovery_codes))
            .expression_attribute_values(":one", n(1));
        Ok(update_if(request).await?.is_some())
    }

    /// Turns MFA off: the secret, the recovery codes and any outstanding challenge go.
    pub async fn disable_mfa(&self, user: &User) -> Result<bool, StoreError> {
        let request = self
            .store
            .update_item(keys::org(&user.org_id), user_sk(&user.id))
            .update_expression(
                "SET mfa_enabled = :no, version = version + :one \
                 REMOVE mfa_secret, mfa_pending_secret, mfa_recovery_codes, mfa_challenge",
            )
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":no", boolean(false))
            .expression_attribute_values(":one", n(1));
        Ok(update_if(request).await?.is_some())
    }

    /// Stores a one-time token's digest and, in the same transaction, the outbox
    /// message that carries the token to a mail sender (relayed to the bus only). A
    /// password reset token also becomes the user's only valid one.
    pub async fn put_token_with_message(
        &self,
        kind: TokenKind,
        record: &TokenRecord,
        message: TransactWriteItem,
    ) -> Result<(), StoreError> {
        let mut items = vec![self.put_new(self.token_item(kind, record)?)?, message];
        if kind == TokenKind::PasswordReset {
            items.push(self.make_current(record, "reset_token")?);
        }
        match transact(self.store, items).await? {
            None => Ok(()),
            // Both keys are fresh random values; a clash is a fault, not an outcome.
            Some(_) => {
                Err(unexpected_cancellation("the token or its outbox message already exists, or the user is gone"))
            }
        }
    }
}
