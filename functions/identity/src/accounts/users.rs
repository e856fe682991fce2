//! `/api/v1/identity/users`: the organization's users and their roles.
//!
//! Nobody grants what they do not hold: every role and permission given (and every role
//! of a user being changed or removed) must be covered by the caller's own permissions.
//! The last active owner can never be removed, disabled or demoted; the owner counter on
//! the organization item enforces it inside each write's transaction.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::auth::{Permission, Principal, Role};
use shared::domain::Problems;
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::listing::PageParams;
use shared::http::optimistic::{Attempt, Contention, write_current};
use shared::http::query::{Path, Query};
use shared::http::resource::{created_response, versioned_response};
use shared::{ApiError, time_format};
use utoipa::ToSchema;

use crate::IdentityState;
use crate::accounts::model::{self, User, UserStatus};
use crate::accounts::passwords;
use crate::accounts::store::AccountStore;
use crate::accounts::views::UserView;
use crate::caller::own_listing;

/// How writes answer a stale `If-Match` (412) or losing every race (409).
const CONTENTION: Contention =
    Contention { resource: "user", exhausted: "The user is being changed concurrently; retry, ideally with If-Match" };

fn location(id: &str) -> String {
    format!("/api/v1/identity/users/{id}")
}

fn user_response(user: &User, status: StatusCode) -> Response {
    versioned_response(UserView::from(user), user.version, status)
}

/// Refuses roles or permissions the caller does not hold itself.
fn ensure_can_grant(principal: &Principal, roles: &[Role], permissions: &[String]) -> Result<(), ApiError> {
    for role in roles {
        if !role.permissions().iter().all(|p| principal.permissions.includes(p)) {
            return Err(ApiError::InsufficientPermissions(format!(
                "You cannot grant the role {}: it holds permissions you do not have",
                role.name()
            )));
        }
    }
    if let Some(permission) = permissions.iter().find(|p| !principal.permissions.includes(p)) {
        return Err(ApiError::InsufficientPermissions(format!("You cannot grant the permission {permission}")));
    }
    Ok(())
}

/// The roles without repeats, in the order given.
fn unique(roles: Vec<Role>) -> Vec<Role> {
    let mut seen = Vec::with_capacity(roles.len());
    for role in roles {
        if !seen.contains(&role) {
            seen.push(role);
        }
    }
    seen
}

async fn load(state: &IdentityState, principal: &Principal, id: &str) -> Result<User, ApiError> {
    AccountStore::new(&state.services.store).get_user(&principal.org_id, id).await?.ok_or(ApiError::NotFound("User"))
}

/// List the organization's users, oldest first.
#[utoipa::path(get, path = "/api/v1/identity/users", operation_id = "listUsers", tag = "identity", params(PageParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of users", body = SuccessEnvelope<Vec<UserView>>),
        (status = 400, description = "Invalid cursor or page size", body = ErrorEnvelope),
        (status = 403, description = "Lacks user:read", body = ErrorEnvelope),
    ))]
pub async fn list(
    State(state): State<IdentityState>,
    principal: Principal,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UserRead, None)?;
    let listing = own_listing(&state.services, &principal, "users|created_at", &params)?;
    let page = AccountStore::new(&state.services.store)
        .list_users(&principal.org_id, listing.start.clone(), listing.size)
        .await?;
    Ok(listing.respond::<_, UserView>(&state.services.cursors, page))
}

/// `POST /users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    /// Initial password, 10 to 128 characters.
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    /// At least one role; only roles the caller holds in full can be granted.
    pub roles: Vec<Role>,
    /// Extra permissions (`resource:action`), also limited to what the caller holds.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Links a Tenant-role user to their tenant record (`ten_...`).
    #[serde(default)]
    pub tenant_profile_id: Option<String>,
}

fn check_roles(problems: &mut Problems, roles: &[Role], permissions: &[String], tenant_profile_id: Option<&str>) {
    if roles.is_empty() {
        problems.add("roles", "must name at least one role");
    }
    model::check_permissions(problems, "permissions", permissions);
    if tenant_profile_id.is_some_and(|id| !shared::domain::ids::is_valid(id, "ten")) {
        problems.add("tenant_profile_id", "must be a tenant id (ten_...)");
    }
}

/// Add a user to the organization.
#[utoipa::path(post, path = "/api/v1/identity/users", operation_id = "createUser", tag = "identity",
    request_body = CreateUserRequest, security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = SuccessEnvelope<UserView>, headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "Lacks user:create, or grants a role or permission the caller lacks", body = ErrorEnvelope),
        (status = 409, description = "The email is already registered", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<IdentityState>,
    principal: Principal,
    body: Json<CreateUserRequest>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UserCreate, None)?;
    let body = body.accept()?;
    let input = body.value;
    let mut problems = Problems::new();
    let model::AccountFields { email, first_name, last_name } =
        model::check_new_account(&mut problems, &input.email, &input.password, &input.first_name, &input.last_name);
    check_roles(&mut problems, &input.roles, &input.permissions, input.tenant_profile_id.as_deref());
    problems.into_result()?;
    ensure_can_grant(&principal, &input.roles, &input.permissions)?;
    let Some(email) = email else { return Err(ApiError::invalid_field("email", "must be an email address")) };
    let roles = unique(input.roles);
    let now = time_format::now();
    let password_hash = passwords::hash(input.password).await?;
    let user = User {
        permissions: input.permissions,
        tenant_profile_id: input.tenant_profile_id,
        ..User::new_account(principal.org_id.clone(), email, first_name, last_name, roles, password_hash, now)
    };
    Result::from(AccountStore::new(&state.services.store).create_user(&user).await?)?;
    crate::accounts::recovery::request_email_verification(&state, &user).await?;
    Ok(created_response(UserView::from(&user), user.version, &location(&user.id)))
}

/// Get a user.
#[utoipa::path(get, path = "/api/v1/identity/users/{user_id}", operation_id = "getUser", tag = "identity",
    params(("user_id" = String, Path, description = "User id")), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The user", body = SuccessEnvelope<UserView>, headers(("ETag" = String))),
        (status = 404, description = "No such user in this organization", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UserRead, None)?;
    Ok(user_response(&load(&state, &principal, &id).await?, StatusCode::OK))
}

/// Loads the user, checks `If-Match` and that the caller may manage it, and writes
/// `change(current)` conditioned on the version read. Without `If-Match` a concurrent
/// change is retried on the fresh version, then answered with 409.
async fn write_user(
    state: &IdentityState,
    principal: &Principal,
    id: &str,
    precondition: &Precondition,
    change: impl Fn(&User) -> Result<User, ApiError>,
) -> Result<User, ApiError> {
    let store = AccountStore::new(&state.services.store);
    let (store, change) = (&store, &change);
    write_current(
        precondition,
        CONTENTION,
        || load(state, principal, id),
        |current| async move {
            ensure_can_grant(principal, &current.roles, &current.permissions)?;
            let mut next = change(&current)?;
            next.version = current.version + 1;
            next.updated_at = time_format::now();
            let delta = i32::from(next.counts_as_owner()) - i32::from(current.counts_as_owner());
            let written = Attempt::try_from(store.replace_user(&next, current.version, delta).await?)?;
            Ok(written.map(|()| next))
        },
    )
    .await
}

/// `PUT /users/{user_id}` body: the profile fields. Email, roles and password have their own
/// routes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceUserRequest {
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub tenant_profile_id: Option<String>,
    /// `disabled` users cannot sign in or refresh.
    pub status: UserStatus,
}

/// Replace a user's profile.
#[utoipa::path(put, path = "/api/v1/identity/users/{user_id}", operation_id = "replaceUser", tag = "identity",
    request_body = ReplaceUserRequest,
    params(("user_id" = String, Path, description = "User id"), ("If-Match" = Option<String>, Header, description = "ETag from a GET")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Replaced", body = SuccessEnvelope<UserView>, headers(("ETag" = String))),
        (status = 403, description = "Lacks user:update, or the user holds roles the caller lacks", body = ErrorEnvelope),
        (status = 404, description = "No such user in this organization", body = ErrorEnvelope),
        (status = 409, description = "Would disable the last owner", body = ErrorEnvelope),
        (status = 412, description = "Stale If-Match", body = ErrorEnvelope),
        (status = 422, description = "Invalid fields", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<String>,
    IfMatch(precondition): IfMatch,
    body: Json<ReplaceUserRequest>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UserUpdate, None)?;
    // The user's 404 before the body's refusals.
    load(&state, &principal, &id).await?;
    let input = body.accept()?.value;
    let mut problems = Problems::new();
    let first_name = problems.text("first_name", &input.first_name, 1, 100);
    let last_name = problems.text("last_name", &input.last_name, 1, 100);
    check_roles(&mut problems, &[Role::Tenant], &[], input.tenant_profile_id.as_deref());
    problems.into_result()?;
    let user = write_user(&state, &principal, &id, &precondition, |current| {
        let mut next = current.clone();
        next.first_name = first_name.clone();
        next.last_name = last_name.clone();
        next.tenant_profile_id = input.tenant_profile_id.clone();
        next.status = input.status;
        Ok(next)
    })
    .await?;
    if user.status == UserStatus::Disabled {
        crate::oauth::end_user_grants(&state.services.store, &user.org_id, &user.id).await?;
    }
    Ok(user_response(&user, StatusCode::OK))
}

/// Remove a user.
#[utoipa::path(delete, path = "/api/v1/identity/users/{user_id}", operation_id = "deleteUser", tag = "identity",
    params(("user_id" = String, Path, description = "User id"), ("If-Match" = Option<String>, Header, description = "ETag from a GET")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks user:delete, or the user holds roles the caller lacks", body = ErrorEnvelope),
        (status = 404, description = "No such user in this organization", body = ErrorEnvelope),
        (status = 409, description = "The last owner cannot be removed", body = ErrorEnvelope),
        (status = 412, description = "Stale If-Match", body = ErrorEnvelope),
    ))]
pub async fn delete(
    State(state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<String>,
    IfMatch(precondition): IfMatch,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UserDelete, None)?;
    let store = AccountStore::new(&state.services.store);
    let (state, principal, store) = (&state, &principal, &store);
    write_current(
        &precondition,
        CONTENTION,
        || load(state, principal, &id),
        |current| async move {
            ensure_can_grant(principal, &current.roles, &current.permissions)?;
            Attempt::try_from(store.delete_user(&current, current.version).await?)
        },
    )
    .await?;
    crate::oauth::end_user_grants(&state.services.store, &principal.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A user's roles and what they add up to.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRoles {
    pub user_id: String,
    pub roles: Vec<Role>,
    /// Extra permissions on top of the roles'.
    pub permissions: Vec<String>,
    /// Everything the roles and extra permissions grant.
    pub effective_permissions: Vec<String>,
    pub version: u64,
}

fn roles_response(user: &User) -> Response {
    let view = UserRoles {
        user_id: user.id.clone(),
        roles: user.roles.clone(),
        permissions: user.permissions.clone(),
        effective_permissions: user.effective_permissions(),
        version: user.version,
    };
    versioned_response(view, user.version, StatusCode::OK)
}

/// A user's roles.
#[utoipa::path(get, path = "/api/v1/identity/users/{user_id}/roles", operation_id = "getUserRoles", tag = "identity",
    params(("user_id" = String, Path, description = "User id")), security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The user's roles", body = SuccessEnvelope<UserRoles>, headers(("ETag" = String))),
        (status = 404, description = "No such user in this organization", body = ErrorEnvelope),
    ))]
pub async fn read_roles(
    State(state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UserRead, None)?;
    Ok(roles_response(&load(&state, &principal, &id).await?))
}

/// `PUT /users/{user_id}/roles` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRolesRequest {
    pub roles: Vec<Role>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Replace a user's roles. Takes effect at the user's next sign-in or refresh.
#[utoipa::path(put, path = "/api/v1/identity/users/{user_id}/roles", operation_id = "replaceUserRoles", tag = "identity",
    request_body = ReplaceRolesRequest,
    params(("user_id" = String, Path, description = "User id"), ("If-Match" = Option<String>, Header, description = "ETag from a GET")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The new roles", body = SuccessEnvelope<UserRoles>),
        (status = 403, description = "Grants or removes a role the caller lacks", body = ErrorEnvelope),
        (status = 404, description = "No such user in this organization", body = ErrorEnvelope),
        (status = 409, description = "Would demote the last owner", body = ErrorEnvelope),
        (status = 412, description = "Stale If-Match", body = ErrorEnvelope),
    ))]
pub async fn replace_roles(
    State(state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<String>,
    IfMatch(precondition): IfMatch,
    body: Json<ReplaceRolesRequest>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::UserUpdate, None)?;
    load(&state, &principal, &id).await?;
    let ReplaceRolesRequest { roles, permissions } = body.accept()?.value;
    let roles = unique(roles);
    let mut problems = Problems::new();
    check_roles(&mut problems, &roles, &permissions, None);
    problems.into_result()?;
    ensure_can_grant(&principal, &roles, &permissions)?;
    let demoted = AtomicBool::new(false);
    let user = write_user(&state, &principal, &id, &precondition, |current| {
        let mut next = current.clone();
        next.roles = roles.clone();
        next.permissions = permissions.clone();
        demoted.store(lost_a_permission(current, &next), Ordering::Relaxed);
        Ok(next)
    })
    .await?;
    if demoted.load(Ordering::Relaxed) {
        crate::oauth::end_user_grants(&state.services.store, &user.org_id, &user.id).await?;
    }
    Ok(roles_response(&user))
}

/// Whether `next` lacks anything `current` held: a demotion, which ends the user's
/// OAuth grants.
fn lost_a_permission(current: &User, next: &User) -> bool {
    let kept = shared::auth::permissions::PermissionSet::from_roles(&next.roles, &next.permissions);
    current.effective_permissions().iter().any(|held| !kept.includes(held))
}
