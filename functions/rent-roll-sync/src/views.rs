//! The bodies the RentSync settings API answers with. Secrets never appear: only
//! whether one is set.

use serde::Serialize;
use shared::store::rent_roll::{
    AuthMode, DeliveryMode, PayloadFormat, RentSyncPropertyOverride, RentSyncSettings, SyncMode, SyncSchedule,
};
use utoipa::ToSchema;

use crate::delivery::sync_id_header;

#[derive(Debug, Serialize, ToSchema)]
pub struct RentSyncView {
    pub enabled: bool,
    #[schema(example = "https://api.rentsync.com/v1/rent-roll/sync")]
    pub endpoint_url: String,
    pub format: PayloadFormat,
    pub mode: SyncMode,
    pub delivery: DeliveryMode,
    pub max_body_bytes: u64,
    pub schedule: SyncSchedule,
    #[schema(example = "X-Aigent-Sync-ID")]
    pub sync_id_header: String,
    pub auth: RentSyncAuthView,
    pub updated_at: String,
}

/// The auth mode and its public parts.
#[derive(Debug, Serialize, ToSchema)]
pub struct RentSyncAuthView {
    pub mode: AuthMode,
    /// Whether a secret is stored (its value is never shown).
    pub secret_set: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl From<&RentSyncSettings> for RentSyncView {
    fn from(s: &RentSyncSettings) -> Self {
        let oauth = s.oauth.as_ref();
        Self {
            enabled: s.enabled,
            endpoint_url: s.endpoint_url.clone(),
            format: s.format,
            mode: s.mode,
            delivery: s.delivery,
            max_body_bytes: s.max_body_bytes,
            schedule: s.schedule,
            sync_id_header: sync_id_header(s).to_owned(),
            auth: RentSyncAuthView {
                mode: s.auth,
                secret_set: !s.secret_id.is_empty(),
                token_url: oauth.map(|o| o.token_url.clone()),
                client_id: oauth.map(|o| o.client_id.clone()),
                scope: oauth.and_then(|o| o.scope.clone()),
            },
            updated_at: s.updated_at.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyOverrideView {
    pub property_id: String,
    pub excluded: bool,
    pub endpoint_url: Option<String>,
    pub format: Option<PayloadFormat>,
    pub updated_at: String,
}

impl From<&RentSyncPropertyOverride> for PropertyOverrideView {
    fn from(o: &RentSyncPropertyOverride) -> Self {
        Self {
            property_id: o.property_id.clone(),
            excluded: o.excluded,
            endpoint_url: o.endpoint_url.clone(),
            format: o.format,
            updated_at: o.updated_at.clone(),
        }
    }
}
