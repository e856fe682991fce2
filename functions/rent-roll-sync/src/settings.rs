//! `/api/v1/integrations/rentsync[/properties/{property_id}]` handlers: the
//! organization's RentSync settings and each property's override; and how a sync applies
//! a property's override.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal};
use shared::domain::ids::PropertyId;
use shared::http::body::Json;
use shared::http::envelope::{ErrorEnvelope, SuccessEnvelope};
use shared::http::etag::{IfMatch, Precondition};
use shared::http::optimistic::{Attempt, Contention, retry_lost_races};
use shared::http::query::Path;
use shared::http::resource::versioned_response;
use shared::store::StoreError;
use shared::store::rent_roll::{RentSyncPropertyOverride, RentSyncSettings};
use shared::{ApiError, time_format};

use crate::refusals::{OVERRIDE_CONTENTION, Refused, SETTINGS_CONTENTION};
use crate::requests::{PropertyOverrideInput, RentSyncInput};
use crate::views::{PropertyOverrideView, RentSyncView};
use crate::{RentSyncState, Syncer};

#[derive(Debug, Deserialize)]
pub struct PropertyPath {
    property_id: String,
}

/// A stale `If-Match` is a 412, and so is any `If-Match` on what does not exist yet.
fn check_precondition(
    precondition: &Precondition,
    version: Option<u64>,
    contention: Contention,
) -> Result<(), ApiError> {
    match version {
        Some(version) if !precondition.allows(version) => Err(contention.stale()),
        None if *precondition != Precondition::None => Err(contention.stale()),
        _ => Ok(()),
    }
}

/// The organization's RentSync settings; the secret shows only as `secret_set`.
#[utoipa::path(get, path = "/api/v1/integrations/rentsync", operation_id = "getRentSyncSettings", tag = "integrations",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The settings", body = SuccessEnvelope<RentSyncView>, headers(("ETag" = String))),
        (status = 403, description = "Lacks integration:read", body = ErrorEnvelope),
        (status = 404, description = "RentSync is not configured", body = ErrorEnvelope),
    ))]
pub async fn read(State(state): State<RentSyncState>, principal: Principal) -> Result<Response, ApiError> {
    principal.authorize(Permission::IntegrationRead, None)?;
    let settings = state.services.store.rent_roll().settings(&principal.org_id).await?;
    let settings = settings.ok_or(Refused::SettingsMissing)?;
    Ok(versioned_response(RentSyncView::from(&settings), settings.version, StatusCode::OK))
}

/// Configure RentSync (created by the first `PUT`). A secret sent is stored in Secrets
/// Manager and never returned.
#[utoipa::path(put, path = "/api/v1/integrations/rentsync", operation_id = "replaceRentSyncSettings", tag = "integrations",
    request_body = RentSyncInput,
    params(("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Saved", body = SuccessEnvelope<RentSyncView>, headers(("ETag" = String))),
        (status = 403, description = "Lacks integration:write", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid field, such as an endpoint that is not https or resolves to a private address", body = ErrorEnvelope),
    ))]
pub async fn replace(
    State(state): State<RentSyncState>,
    principal: Principal,
    IfMatch(precondition): IfMatch,
    body: Json<RentSyncInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::IntegrationWrite, None)?;
    let input = body.accept()?.value;
    let (state, input, org_id) = (&state, &input, principal.org_id.as_str());
    let store = state.services.store.rent_roll();
    let current = store.settings(org_id).await?;
    check_precondition(&precondition, current.as_ref().map(|c| c.version), SETTINGS_CONTENTION)?;
    input.validate(&state.config.guard, current.as_ref()).await?;
    let secret_id = state.config.secret_id(org_id);
    if let Some(secret) = &input.auth.secret {
        shared::secrets::put_string(&state.services.aws.secrets, &secret_id, secret).await.map_err(|err| {
            // The error names the secret id, never its value.
            tracing::error!(error = %err, "storing the RentSync credential failed");
            Refused::SecretUnwritable
        })?;
    }
    let (store, secret_id, precondition) = (&store, &secret_id, &precondition);
    retry_lost_races(precondition, SETTINGS_CONTENTION, || async move {
        let current = store.settings(org_id).await?;
        let version = current.as_ref().map(|c| c.version);
        check_precondition(precondition, version, SETTINGS_CONTENTION)?;
        let now = time_format::format(time_format::now());
        let next = input.settings(org_id, secret_id.clone(), version.map_or(1, |v| v + 1), now);
        Ok(match store.save_settings_at(&next, version).await? {
            true => Attempt::Done(versioned_response(RentSyncView::from(&next), next.version, StatusCode::OK)),
            false => Attempt::LostRace,
        })
    })
    .await
}

/// The property, if it is the caller's organization's.
async fn own_property(state: &RentSyncState, principal: &Principal, id: &str) -> Result<String, ApiError> {
    let id = PropertyId::parse(id).ok_or(Refused::PropertyMissing)?;
    let property = state.services.store.properties().get(&principal.org_id, &id).await?;
    Ok(property.ok_or(Refused::PropertyMissing)?.id)
}

/// A property's RentSync override.
#[utoipa::path(get, path = "/api/v1/integrations/rentsync/properties/{property_id}", operation_id = "getRentSyncPropertyOverride", tag = "integrations",
    params(("property_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The override", body = SuccessEnvelope<PropertyOverrideView>, headers(("ETag" = String))),
        (status = 403, description = "Lacks integration:read", body = ErrorEnvelope),
        (status = 404, description = "No such property in this organization, or it has no override", body = ErrorEnvelope),
    ))]
pub async fn read_property(
    State(state): State<RentSyncState>,
    principal: Principal,
    Path(path): Path<PropertyPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::IntegrationRead, None)?;
    if PropertyId::parse(&path.property_id).is_none() {
        return Err(Refused::OverrideMissing.into());
    }
    let found = state.services.store.rent_roll().property_override(&principal.org_id, &path.property_id).await?;
    let found = found.ok_or(Refused::OverrideMissing)?;
    Ok(versioned_response(PropertyOverrideView::from(&found), found.version, StatusCode::OK))
}

/// Set how a property's sync differs: leave it out, or send it elsewhere or in another format.
#[utoipa::path(put, path = "/api/v1/integrations/rentsync/properties/{property_id}", operation_id = "replaceRentSyncPropertyOverride", tag = "integrations",
    request_body = PropertyOverrideInput,
    params(("property_id" = String, Path), ("If-Match" = Option<String>, Header)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Saved", body = SuccessEnvelope<PropertyOverrideView>, headers(("ETag" = String))),
        (status = 403, description = "Lacks integration:write", body = ErrorEnvelope),
        (status = 404, description = "No such property in this organization", body = ErrorEnvelope),
        (status = 412, description = "If-Match is stale", body = ErrorEnvelope),
        (status = 422, description = "Invalid field", body = ErrorEnvelope),
    ))]
pub async fn replace_property(
    State(state): State<RentSyncState>,
    principal: Principal,
    Path(path): Path<PropertyPath>,
    IfMatch(precondition): IfMatch,
    body: Json<PropertyOverrideInput>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::IntegrationWrite, None)?;
    let property_id = own_property(&state, &principal, &path.property_id).await?;
    let input = body.accept()?.value;
    input.validate(&state.config.guard).await?;
    let store = state.services.store.rent_roll();
    let (store, input, org_id, property_id) = (&store, &input, principal.org_id.as_str(), property_id.as_str());
    let precondition = &precondition;
    retry_lost_races(precondition, OVERRIDE_CONTENTION, || async move {
        let version = store.property_override(org_id, property_id).await?.map(|o| o.version);
        check_precondition(precondition, version, OVERRIDE_CONTENTION)?;
        let now = time_format::format(time_format::now());
        let next = input.clone().into_override(org_id, property_id, version.map_or(1, |v| v + 1), now);
        Ok(match store.save_property_override(&next, version).await? {
            true => Attempt::Done(versioned_response(PropertyOverrideView::from(&next), next.version, StatusCode::OK)),
            false => Attempt::LostRace,
        })
    })
    .await
}

/// Remove a property's override: it syncs with the organization's settings again.
#[utoipa::path(delete, path = "/api/v1/integrations/rentsync/properties/{property_id}", operation_id = "deleteRentSyncPropertyOverride", tag = "integrations",
    params(("property_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Lacks integration:write", body = ErrorEnvelope),
        (status = 404, description = "No such property in this organization, or it has no override", body = ErrorEnvelope),
    ))]
pub async fn delete_property(
    State(state): State<RentSyncState>,
    principal: Principal,
    Path(path): Path<PropertyPath>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::IntegrationWrite, None)?;
    if PropertyId::parse(&path.property_id).is_none()
        || !state.services.store.rent_roll().delete_property_override(&principal.org_id, &path.property_id).await?
    {
        return Err(Refused::OverrideMissing.into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The organization's settings as they apply to one property: `None` when the property
/// is excluded; else with its endpoint and format, where it overrides them.
pub fn apply_override(
    settings: &RentSyncSettings,
    found: Option<RentSyncPropertyOverride>,
) -> Option<RentSyncSettings> {
    let Some(found) = found else { return Some(settings.clone()) };
    if found.excluded {
        return None;
    }
    let mut settings = settings.clone();
    if let Some(url) = found.endpoint_url {
        settings.endpoint_url = url;
    }
    if let Some(format) = found.format {
        settings.format = format;
    }
    Some(settings)
}

impl Syncer {
    /// The settings a property syncs with (`None`: it is excluded).
    pub async fn for_property(
        &self,
        settings: &RentSyncSettings,
        property_id: &str,
    ) -> Result<Option<RentSyncSettings>, StoreError> {
        let found = self.store.rent_roll().property_override(&settings.organization_id, property_id).await?;
        Ok(apply_override(settings, found))
    }
}
