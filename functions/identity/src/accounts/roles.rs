//! `/api/v1/identity/roles` and `/permissions`: the role → permission matrix of
//! `shared::auth::permissions`, read-only (roles are fixed in code).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::ApiError;
use shared::auth::{Permission, Principal, Role};
use shared::http::envelope::{ApiResponse, ErrorEnvelope, SuccessEnvelope};
use shared::http::query::Path;
use utoipa::ToSchema;

use crate::IdentityState;

/// A role and what it grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    /// The role's name doubles as its id.
    pub id: &'static str,
    pub name: &'static str,
    pub permissions: Vec<&'static str>,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        Self { id: role.name(), name: role.name(), permissions: role.permissions().to_vec() }
    }
}

/// The whole matrix.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionMatrix {
    /// Role name → the permissions it grants (`resource:action`, `*` wildcards).
    pub roles: BTreeMap<&'static str, Vec<&'static str>>,
    /// Every permission any role names, sorted.
    pub permissions: Vec<&'static str>,
}

fn find(id: &str) -> Result<Role, ApiError> {
    Role::parse(id).ok_or(ApiError::NotFound("Role"))
}

/// List the roles.
#[utoipa::path(get, path = "/api/v1/identity/roles", operation_id = "listRoles", tag = "identity",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Every role", body = SuccessEnvelope<Vec<RoleView>>),
        (status = 403, description = "Lacks role:read", body = ErrorEnvelope),
    ))]
pub async fn list(State(_state): State<IdentityState>, principal: Principal) -> Result<Response, ApiError> {
    principal.authorize(Permission::RoleRead, None)?;
    let roles: Vec<RoleView> = Role::ALL.into_iter().map(RoleView::from).collect();
    Ok(ApiResponse::ok(roles).into_response())
}

/// Get a role.
#[utoipa::path(get, path = "/api/v1/identity/roles/{role_id}", operation_id = "getRole", tag = "identity",
    params(("role_id" = String, Path, description = "Role name, e.g. PropertyManager")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The role", body = SuccessEnvelope<RoleView>),
        (status = 404, description = "No such role", body = ErrorEnvelope),
    ))]
pub async fn read(
    State(_state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RoleRead, None)?;
    Ok(ApiResponse::ok(RoleView::from(find(&id)?)).into_response())
}

/// The permissions a role grants.
#[utoipa::path(get, path = "/api/v1/identity/roles/{role_id}/permissions", operation_id = "getRolePermissions", tag = "identity",
    params(("role_id" = String, Path, description = "Role name")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The role's permissions", body = SuccessEnvelope<Vec<String>>),
        (status = 404, description = "No such role", body = ErrorEnvelope),
    ))]
pub async fn permissions_of(
    State(_state): State<IdentityState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::RoleRead, None)?;
    Ok(ApiResponse::ok(find(&id)?.permissions().to_vec()).into_response())
}

/// The full role → permission matrix.
#[utoipa::path(get, path = "/api/v1/identity/permissions", operation_id = "getPermissionMatrix", tag = "identity",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The matrix", body = SuccessEnvelope<PermissionMatrix>),
        (status = 403, description = "Lacks role:read", body = ErrorEnvelope),
    ))]
pub async fn matrix(State(_state): State<IdentityState>, principal: Principal) -> Result<Response, ApiError> {
    principal.authorize(Permission::RoleRead, None)?;
    let roles: BTreeMap<_, _> = Role::ALL.into_iter().map(|r| (r.name(), r.permissions().to_vec())).collect();
    let mut permissions: Vec<&'static str> = roles.values().flatten().copied().collect();
    permissions.sort_unstable();
    permissions.dedup();
    Ok(ApiResponse::ok(PermissionMatrix { roles, permissions }).into_response())
}
