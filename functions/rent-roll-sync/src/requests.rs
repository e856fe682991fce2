//! The bodies the RentSync settings API accepts, and their validation.

use serde::Deserialize;
use shared::domain::Problems;
use shared::store::rent_roll::{
    AuthMode, DEFAULT_MAX_BODY_BYTES, DeliveryMode, OAuthClient, PayloadFormat, RentSyncPropertyOverride,
    RentSyncSettings, SyncMode, SyncSchedule,
};
use utoipa::ToSchema;

use crate::AddressGuard;

const MAX_URL: usize = 2048;
const MAX_SECRET: usize = 4096;
const MAX_CLIENT_ID: usize = 256;
const MAX_SCOPE: usize = 512;
const MAX_HEADER_NAME: usize = 64;
/// The smallest and largest batch bound a body may be split at.
const MIN_BODY_BYTES: u64 = 1024;
/// Headers the sync id may not take the place of.
const RESERVED_HEADERS: [&str; 10] = [
    "authorization",
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "x-api-key",
    "x-aigent-timestamp",
    "x-aigent-signature",
    "transfer-encoding",
    "connection",
];

/// An organization's RentSync settings as `PUT` replaces them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RentSyncInput {
    /// Whether the scheduled sync includes the organization.
    pub enabled: bool,
    /// Where to POST: `https` (plain `http` only where the local configuration allows
    /// it); its host must resolve to public addresses.
    #[schema(example = "https://api.rentsync.com/v1/rent-roll/sync")]
    pub endpoint_url: String,
    /// `single` (the guide's §4.1), `nested` (§4.2, the default) or `flat` (§4.3).
    #[serde(default = "nested")]
    pub format: PayloadFormat,
    /// Full snapshots (the default) or only what changed.
    #[serde(default)]
    pub mode: SyncMode,
    /// One POST per property (the default) or one batch for all of them.
    #[serde(default)]
    pub delivery: DeliveryMode,
    /// A batch larger than this many bytes is split (default 5 MiB).
    pub max_body_bytes: Option<u64>,
    /// When the sync runs (default: daily at 02:00 UTC).
    #[serde(default)]
    pub schedule: SyncSchedule,
    /// The header carrying the sync id (default `X-Aigent-Sync-ID`).
    pub sync_id_header: Option<String>,
    pub auth: RentSyncAuthInput,
}

fn nested() -> PayloadFormat {
    PayloadFormat::Nested
}

/// How requests prove they come from Doorstep. The secret is write-only: it goes to
/// Secrets Manager and is never shown again.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RentSyncAuthInput {
    pub mode: AuthMode,
    /// The API key, bearer key or HMAC key; the whole `Authorization` value for
    /// `static_token`; the client secret for `oauth2_client_credentials`. Required the
    /// first time and when the mode changes; left out, the stored secret stays.
    pub secret: Option<String>,
    /// `oauth2_client_credentials` only.
    pub token_url: Option<String>,
    /// `oauth2_client_credentials` only.
    pub client_id: Option<String>,
    /// `oauth2_client_credentials` only: the `scope` asked for.
    pub scope: Option<String>,
}

/// How one property's sync differs from its organization's settings.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyOverrideInput {
    /// Leave the property out of every sync.
    #[serde(default)]
    pub excluded: bool,
    /// Another endpoint for this property (same rules as the settings' endpoint).
    pub endpoint_url: Option<String>,
    /// Another payload format for this property.
    pub format: Option<PayloadFormat>,
}

/// Checks a URL deliveries or token requests go to.
async fn check_url(problems: &mut Problems, guard: &AddressGuard, field: &str, url: &str) {
    if url.len() > MAX_URL {
        return problems.add(field, "Use at most 2048 characters");
    }
    match url::Url::parse(url) {
        Ok(parsed) => {
            if let Err(refusal) = guard.check(&parsed).await {
                problems.add(field, refusal.to_string());
            }
        }
        Err(_) => problems.add(field, "Use an absolute https URL"),
    }
}

fn check_schedule(problems: &mut Problems, schedule: SyncSchedule) {
    match schedule {
        SyncSchedule::Daily { hour_utc } if hour_utc > 23 => {
            problems.add("schedule.hour_utc", "Use an hour from 0 to 23")
        }
        SyncSchedule::EveryHours { hours } if hours == 0 || !24u8.is_multiple_of(hours) => {
            problems.add("schedule.hours", "Use 1, 2, 3, 4, 6, 8 or 12 hours")
        }
        _ => {}
    }
}

fn check_header_name(problems: &mut Problems, name: &str) {
    let token = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if name.is_empty() || name.len() > MAX_HEADER_NAME || !token {
        problems.add("sync_id_header", "Use a header name of letters, digits and hyphens (at most 64)");
    } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        problems.add("sync_id_header", "This header carries something else; choose another name");
    }
}

fn check_auth(problems: &mut Problems, auth: &RentSyncAuthInput, secret_required: bool) {
    match &auth.secret {
        None if secret_required => {
            problems.add("auth.secret", "Send the secret: none is stored for this auth mode yet");
        }
        Some(secret) if secret.is_empty() || secret.len() > MAX_SECRET => {
            problems.add("auth.secret", "Use 1 to 4096 characters");
        }
        // Every secret except the OAuth client secret travels as a header value.
        Some(secret)
            if auth.mode != AuthMode::OAuth2ClientCredentials && http::HeaderValue::from_str(secret).is_err() =>
        {
            problems.add("auth.secret", "Use visible ASCII characters only; it is sent in a header");
        }
        _ => {}
    }
    if auth.mode == AuthMode::OAuth2ClientCredentials {
        match auth.client_id.as_deref() {
            None | Some("") => problems.add("auth.client_id", "Required for oauth2_client_credentials"),
            Some(id) if id.len() > MAX_CLIENT_ID => problems.add("auth.client_id", "Use at most 256 characters"),
            _ => {}
        }
        if auth.token_url.is_none() {
            problems.add("auth.token_url", "Required for oauth2_client_credentials");
        }
        if auth.scope.as_ref().is_some_and(|s| s.len() > MAX_SCOPE) {
            problems.add("auth.scope", "Use at most 512 characters");
        }
    } else {
        for (field, value) in
            [("auth.token_url", &auth.token_url), ("auth.client_id", &auth.client_id), ("auth.scope", &auth.scope)]
        {
            if value.is_some() {
                problems.add(field, "Only for oauth2_client_credentials");
            }
        }
    }
}

impl RentSyncInput {
    /// The settings these fields make, given the stored ones (whose secret stays unless
    /// a new one is sent); `secret_id` names where the secret is kept.
    pub async fn validate(
        &self,
        guard: &AddressGuard,
        current: Option<&RentSyncSettings>,
    ) -> Result<(), shared::ApiError> {
        let mut problems = Problems::new();
        check_url(&mut problems, guard, "endpoint_url", &self.endpoint_url).await;
        if let Some(bytes) = self.max_body_bytes
            && !(MIN_BODY_BYTES..=DEFAULT_MAX_BODY_BYTES).contains(&bytes)
        {
            problems.add("max_body_bytes", "Use 1024 to 5242880 bytes");
        }
        check_schedule(&mut problems, self.schedule);
        if let Some(name) = &self.sync_id_header {
            check_header_name(&mut problems, name);
        }
        let secret_required = current.is_none_or(|c| c.secret_id.is_empty() || c.auth != self.auth.mode);
        check_auth(&mut problems, &self.auth, secret_required);
        if let (AuthMode::OAuth2ClientCredentials, Some(url)) = (self.auth.mode, &self.auth.token_url) {
            check_url(&mut problems, guard, "auth.token_url", url).await;
        }
        Ok(problems.into_result()?)
    }

    /// The settings of `org_id` these (valid) fields make.
    pub fn settings(&self, org_id: &str, secret_id: String, version: u64, updated_at: String) -> RentSyncSettings {
        let oauth = match self.auth.mode {
            AuthMode::OAuth2ClientCredentials => Some(OAuthClient {
                token_url: self.auth.token_url.clone().unwrap_or_default(),
                client_id: self.auth.client_id.clone().unwrap_or_default(),
                scope: self.auth.scope.clone().filter(|s| !s.is_empty()),
            }),
            _ => None,
        };
        RentSyncSettings {
            organization_id: org_id.to_owned(),
            enabled: self.enabled,
            endpoint_url: self.endpoint_url.clone(),
            format: self.format,
            auth: self.auth.mode,
            secret_id,
            mode: self.mode,
            delivery: self.delivery,
            max_body_bytes: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            sync_id_header: self.sync_id_header.clone(),
            oauth,
            schedule: self.schedule,
            version,
            updated_at,
        }
    }
}

impl PropertyOverrideInput {
    pub async fn validate(&self, guard: &AddressGuard) -> Result<(), shared::ApiError> {
        let mut problems = Problems::new();
        if let Some(url) = &self.endpoint_url {
            check_url(&mut problems, guard, "endpoint_url", url).await;
        }
        Ok(problems.into_result()?)
    }

    pub fn into_override(
        self,
        org_id: &str,
        property_id: &str,
        version: u64,
        updated_at: String,
    ) -> RentSyncPropertyOverride {
        RentSyncPropertyOverride {
            organization_id: org_id.to_owned(),
            property_id: property_id.to_owned(),
            excluded: self.excluded,
            endpoint_url: self.endpoint_url,
            format: self.format,
            version,
            updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(mode: AuthMode, secret: Option<&str>) -> RentSyncAuthInput {
        RentSyncAuthInput { mode, secret: secret.map(str::to_owned), token_url: None, client_id: None, scope: None }
    }

    fn fields(problems: Problems) -> Vec<String> {
        problems.iter().map(|p| p.field.clone()).collect()
    }

    #[test]
    fn schedules_are_whole_hours_that_divide_the_day() {
        let mut problems = Problems::new();
        check_schedule(&mut problems, SyncSchedule::Daily { hour_utc: 23 });
        check_schedule(&mut problems, SyncSchedule::EveryHours { hours: 6 });
        assert!(problems.iter().next().is_none());
        check_schedule(&mut problems, SyncSchedule::Daily { hour_utc: 24 });
        check_schedule(&mut problems, SyncSchedule::EveryHours { hours: 5 });
        check_schedule(&mut problems, SyncSchedule::EveryHours { hours: 0 });
        assert_eq!(fields(problems), vec!["schedule.hour_utc", "schedule.hours", "schedule.hours"]);
    }

    #[test]
    fn the_sync_id_header_is_a_token_that_carries_nothing_else() {
        let mut problems = Problems::new();
        check_header_name(&mut problems, "X-RentSync-Run");
        assert!(problems.iter().next().is_none());
        for bad in ["", "X Sync", "Authorization", "x-api-key", "X-Sync:1"] {
            check_header_name(&mut problems, bad);
        }
        assert_eq!(problems.iter().count(), 5);
    }

    #[test]
    fn a_secret_is_required_first_and_oauth_needs_its_client() {
        let mut problems = Problems::new();
        check_auth(&mut problems, &auth(AuthMode::ApiKey, None), true);
        check_auth(&mut problems, &auth(AuthMode::ApiKey, None), false);
        check_auth(&mut problems, &auth(AuthMode::StaticToken, Some("Token a\nb")), false);
        check_auth(&mut problems, &auth(AuthMode::OAuth2ClientCredentials, Some("s")), false);
        let mut scoped = auth(AuthMode::Hmac, Some("k"));
        scoped.scope = Some("sync".into());
        check_auth(&mut problems, &scoped, false);
        assert_eq!(
            fields(problems),
            vec!["auth.secret", "auth.secret", "auth.client_id", "auth.token_url", "auth.scope"]
        );
    }
}
