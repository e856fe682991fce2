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

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use shared::http::pagination::PageKey;
use shared::store::keys::{self, ENTITY, EXPIRES_AT};
use shared::store::page::Page;
use shared::store::requests::{entity_item, put_if_new};
use shared::store::transactions::{TransactItem, batch_get, condition_failed, transact};
use shared::store::{Store, StoreError, n, s, string_attr, string_set, update};
use shared::time_format;
use time::OffsetDateTime;

use crate::oauth::credentials::{self, Kind};

const APP: &str = "OAUTHAPP#";
const CODE: &str = "OAUTHCODE#";
const GRANT: &str = "OAUTHGRANT#";
const FAMILY: &str = "OAUTHFAMILY#";
const REFRESH: &str = "OAUTHREFRESH#";
/// Grants read per page when ending several.
const GRANT_PAGE: usize = 100;

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

impl Grantor {
    /// The identity `user` of `org` passes on, as they stand now.
    pub fn of(user: &crate::accounts::model::User, org: &crate::accounts::model::Organization) -> Self {
        Self {
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            email: Some(user.email.clone()),
            roles: user.roles.iter().map(|r| r.name().to_owned()).collect(),
            tenant_profile_id: user.tenant_profile_id.clone(),
            plan: org.plan,
        }
    }
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
    /// When the code that started the chain was issued: the user's sign-out of every
    /// session (a password reset) after this ends the chain.
    #[serde(default, with = "time_format::rfc3339_option", skip_serializing_if = "Option::is_none")]
    pub authorized_at: Option<OffsetDateTime>,
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

fn grant_sk(user_id: &str, client_id: &str) -> String {
    format!("{GRANT}{user_id}#{client_id}")
}

/// A token family: the chain of refresh tokens that one code exchange starts.
#[derive(Serialize)]
struct TokenFamily<'a> {
    client_id: &'a str,
    #[serde(with = "time_format::rfc3339")]
    created_at: OffsetDateTime,
    /// Epoch seconds (the table's TTL attribute).
    expires_at: i64,
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
        let item = entity_item(app, keys::org(&app.org_id), format!("{APP}{}", app.client_id), "oauth_app")?;
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

    /// Which of `client_ids` still name a registered app: one `BatchGetItem` per 100
    /// distinct ids (client ids name their organization).
    pub async fn existing_apps(&self, client_ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let keys = client_ids.iter().filter_map(|id| {
            let owner = credentials::parse(Kind::ClientId, id)?;
            Some((keys::org(&owner.org_id), format!("{APP}{id}")))
        });
        let items = batch_get(self.store, keys).await?;
        items.iter().map(|item| Ok(string_attr(item, "client_id")?.to_owned())).collect()
    }

    /// Deletes an app. Its refresh tokens die with it: the token endpoint no longer
    /// authenticates the client.
    pub async fn delete_app(&self, org_id: &str, client_id: &str) -> Result<bool, StoreError> {
        self.store.delete_existing(keys::org(org_id), format!("{APP}{client_id}")).await
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
        let request = self
            .store
            .update_item(keys::org(org_id), grant_sk(user_id, client_id))
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
            .expression_attribute_values(":scopes", string_set(scopes.to_vec()))
            .return_values(ReturnValue::AllNew);
        let output = update(request).await?;
        let item = output.attributes.ok_or(StoreError::MissingAttribute("grant"))?;
        Ok(serde_dynamo::from_item(item)?)
    }

    /// A user's consent to an app, if they gave one.
    pub async fn get_grant(&self, org_id: &str, user_id: &str, client_id: &str) -> Result<Option<Grant>, StoreError> {
        self.get(org_id, grant_sk(user_id, client_id)).await
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

    /// One page of every grant in the organization: any user's consent to any app,
    /// wherever the app is registered.
    pub async fn list_organization_grants(
        &self,
        org_id: &str,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Grant>, StoreError> {
        self.list(org_id, GRANT.to_owned(), start, limit).await
    }

    /// Deletes every grant of the organization's that `revoked` picks (each is deleted
    /// only if it still exists); returns how many went. Its codes and refresh tokens stop
    /// working: they fail the grant check from then on.
    async fn revoke_grants_where(
        &self,
        org_id: &str,
        prefix: String,
        revoked: impl Fn(&Grant) -> bool,
    ) -> Result<usize, StoreError> {
        let (mut ended, mut start) = (0, None);
        loop {
            let page: Page<Grant> = self.list(org_id, prefix.clone(), start, GRANT_PAGE).await?;
            for grant in page.items.iter().filter(|g| revoked(g)) {
                if self.store.delete_existing(keys::org(org_id), grant_sk(&grant.user_id, &grant.client_id)).await? {
                    ended += 1;
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(ended),
            }
        }
    }

    /// Ends every grant a user gave (they were deleted, disabled or demoted, or reset
    /// their password).
    pub async fn revoke_user_grants(&self, org_id: &str, user_id: &str) -> Result<usize, StoreError> {
        self.revoke_grants_where(org_id, format!("{GRANT}{user_id}#"), |_| true).await
    }

    /// Ends every grant the organization's users gave one app.
    pub async fn revoke_app_grants(&self, org_id: &str, client_id: &str) -> Result<usize, StoreError> {
        self.revoke_grants_where(org_id, GRANT.to_owned(), |g| g.client_id == client_id).await
    }

    /// Revokes a user's grant; every code and refresh token issued under it stops working.
    pub async fn revoke_grant(&self, org_id: &str, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
        self.store.delete_existing(keys::org(org_id), grant_sk(user_id, client_id)).await
    }

    pub async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let item = entity_item(code, keys::org(&code.grantor.org_id), format!("{CODE}{}", code.id), "oauth_code")?;
        self.store.put_new(item).await
    }

    pub async fn get_code(&self, org_id: &str, code_id: &str) -> Result<Option<AuthorizationCode>, StoreError> {
        self.get(org_id, format!("{CODE}{code_id}")).await
    }

    // --- refresh tokens ---

    pub async fn get_refresh_token(&self, org_id: &str, token_id: &str) -> Result<Option<RefreshToken>, StoreError> {
        self.get(org_id, format!("{REFRESH}{token_id}")).await
    }

    fn put_refresh(&self, token: &RefreshToken) -> Result<TransactWriteItem, StoreError> {
        let sk = format!("{REFRESH}{}", token.id);
        let item = entity_item(token, keys::org(&token.grantor.org_id), sk, "oauth_refresh_token")?;
        put_if_new(self.store, item)?.transact_item()
    }

    /// The transaction item that marks a code or token used, if it is unused and unexpired.
    fn mark_used(&self, org_id: &str, sk: String, now: OffsetDateTime) -> Result<TransactWriteItem, StoreError> {
        self.store
            .update_in_transaction(keys::org(org_id), sk)
            .update_expression("SET used_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(used_at) AND #exp > :epoch")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":epoch", n(now.unix_timestamp()))
            .transact_item()
    }

    /// The transaction item that requires the grant to still be the one a code or token
    /// (`grantor`, `client_id`, `grant_id`) was issued under.
    fn grant_unchanged(
        &self,
        grantor: &Grantor,
        client_id: &str,
        grant_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.store
            .check_in_transaction(keys::org(&grantor.org_id), grant_sk(&grantor.user_id, client_id))
            .condition_expression("grant_id = :gid")
            .expression_attribute_values(":gid", s(grant_id))
            .transact_item()
    }

    /// Runs a code exchange or a rotation in one transaction: marks the code or token at
    /// `used_sk` used, requires the grant it was `issued` under (grantor, client id, grant
    /// id) to still stand, writes its token `family`, and stores the `next` refresh token.
    async fn redeem(
        &self,
        used_sk: String,
        issued: (&Grantor, &str, &str),
        family: TransactWriteItem,
        next: &RefreshToken,
        now: OffsetDateTime,
    ) -> Result<Redeemed, StoreError> {
        let (grantor, client_id, grant_id) = issued;
        let items = vec![
            self.mark_used(&grantor.org_id, used_sk, now)?,
            self.grant_unchanged(grantor, client_id, grant_id)?,
            family,
            self.put_refresh(next)?,
        ];
        Ok(match transact(self.store, items).await? {
            None => Redeemed::Done,
            Some(failed) if condition_failed(&failed, 0) => Redeemed::AlreadyUsed,
            Some(_) => Redeemed::Revoked,
        })
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
        let family = TokenFamily { client_id: &code.client_id, created_at: now, expires_at: first.expires_at };
        let family = entity_item(&family, keys::org(org_id), format!("{FAMILY}{}", code.id), "oauth_token_family")?;
        let family = put_if_new(self.store, family)?.transact_item()?;
        let issued = (&code.grantor, code.client_id.as_str(), code.grant_id.as_str());
        self.redeem(format!("{CODE}{}", code.id), issued, family, first, now).await
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
        let family = self
            .store
            .update_in_transaction(keys::org(org_id), format!("{FAMILY}{}", used.family_id))
            .update_expression("SET #exp = :exp")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(revoked_at)")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":exp", n(next.expires_at));
        let issued = (&used.grantor, used.client_id.as_str(), used.grant_id.as_str());
        self.redeem(format!("{REFRESH}{}", used.id), issued, family.transact_item()?, next, now).await
    }

    /// Revokes every refresh token of a family (after a code or token was replayed).
    pub async fn revoke_family(
        &self,
        org_id: &str,
        family_id: &str,
        now: OffsetDateTime,
        keep_until: i64,
    ) -> Result<(), StoreError> {
        let request = self
            .store
            .update_item(keys::org(org_id), format!("{FAMILY}{family_id}"))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now), #entity = :entity, #exp = :exp")
            .expression_attribute_names("#entity", ENTITY)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":entity", s("oauth_token_family"))
            .expression_attribute_values(":exp", n(keep_until));
        update(request).await?;
        Ok(())
    }
}
