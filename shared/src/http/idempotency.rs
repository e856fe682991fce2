//! The `Idempotency-Key` request header.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Set on a response that replays the one first given for the same key.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";

/// The optional `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY_HEADER) else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
        key.map(|k| Self(Some(k.to_owned())))
            .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()))
    }
}

/// The response for a request whose `Idempotency-Key` was used before: the first
/// response again (marked `Idempotent-Replayed: true`) for the same body, a 422 for
/// another body.
fn replay(
    first: crate::store::idempotency::IdempotencyRecord,
    fingerprint: &str,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::{HeaderName, StatusCode, header};
    use axum::response::IntoResponse;

    if first.fingerprint != fingerprint {
        return Err(ApiError::Validation {
            message: "Idempotency-Key was already used with a different request".into(),
            details: vec![crate::error::FieldError::new("Idempotency-Key", "was already used with a different body")],
        });
    }
    if first.is_claim() {
        return Err(ApiError::Conflict(
            "A request with this Idempotency-Key is still in progress; retry it in a moment".into(),
        ));
    }
    let data = serde_json::value::RawValue::from_string(first.body).map_err(ApiError::internal)?;
    let status = StatusCode::from_u16(first.status).map_err(ApiError::internal)?;
    let version = serde_json::from_str::<serde_json::Value>(data.get()).ok().and_then(|v| v.get("version")?.as_u64());
    let mut response = crate::http::envelope::ApiResponse::ok(data)
        .with_status(status)
        .with_header(HeaderName::from_static(IDEMPOTENT_REPLAYED_HEADER), "true");
    if let Some(location) = &first.location {
        response = response.with_header(header::LOCATION, location);
    }
    if let Some(version) = version {
        response = response.with_header(header::ETAG, &crate::http::etag::etag(version));
    }
    Ok(response.into_response())
}

/// A create request as its `Idempotency-Key` sees it: the route it was sent to, the key
/// (if any), the body's fingerprint and the time it arrived.
#[derive(Debug, Clone, Copy)]
pub struct CreateRequest<'a> {
    /// The route, e.g. `POST /api/v1/properties/<id>/units`.
    pub scope: &'a str,
    pub key: Option<&'a str>,
    pub fingerprint: &'a str,
    pub now: time::OffsetDateTime,
}

impl CreateRequest<'_> {
    /// The first answer to this key if it was already used in the organization and has
    /// not expired (see [`replay`]); `None` when there is no key or it is new.
    pub async fn first_answer(
        &self,
        store: &crate::store::Store,
        org_id: &str,
    ) -> Result<Option<crate::store::idempotency::IdempotencyRecord>, ApiError> {
        let Some(key) = self.key else { return Ok(None) };
        Ok(crate::store::transactions::idempotency_record(store, org_id, self.scope, key, self.now).await?)
    }

    /// The first response again (see [`replay`]) if the key was already used; read
    /// before a create, so that a retry replays instead of tripping over what the first
    /// request wrote.
    pub async fn replay_if_used(
        &self,
        store: &crate::store::Store,
        org_id: &str,
    ) -> Result<Option<axum::response::Response>, ApiError> {
        match self.first_answer(store, org_id).await? {
            Some(first) => replay(first, self.fingerprint).map(Some),
            None => Ok(None),
        }
    }

    /// Claims the key for a create that cannot be undone (a paid order), before it is
    /// placed: `None` when this request holds the key now (or has none); otherwise the
    /// answer to give, the first response again or a 409 while the first is in progress.
    /// A request that fails after claiming calls [`Self::release`].
    pub async fn claim(
        &self,
        store: &crate::store::Store,
        org_id: &str,
    ) -> Result<Option<axum::response::Response>, ApiError> {
        let Some(key) = self.key else { return Ok(None) };
        match store.claim_idempotency(org_id, self.scope, key, self.fingerprint, self.now).await? {
            None => Ok(None),
            Some(held) => replay(held, self.fingerprint).map(Some),
        }
    }

    /// Frees the key claimed by [`Self::claim`] after the create failed, so a retry can
    /// place it. A failure to free it is logged: the claim expires on its own.
    pub async fn release(&self, store: &crate::store::Store, org_id: &str) {
        let Some(key) = self.key else { return };
        if let Err(err) = store.release_idempotency(org_id, self.scope, key).await {
            tracing::warn!(scope = self.scope, error = %err, "an Idempotency-Key claim was not released");
        }
    }
}

/// The 201 a create answers with (`view` at `location`, version `version`), and the
/// record stored with the item under the request's key, for a retry to replay.
#[derive(Debug)]
pub struct Creation<'a, V> {
    request: CreateRequest<'a>,
    view: V,
    version: u64,
    location: String,
    record: crate::store::idempotency::IdempotencyRecord,
}

impl<'a, V: serde::Serialize> Creation<'a, V> {
    pub fn new(request: CreateRequest<'a>, view: V, version: u64, location: String) -> Result<Self, ApiError> {
        let body = serde_json::to_string(&view).map_err(ApiError::internal)?;
        let record = crate::store::idempotency::IdempotencyRecord::new(
            request.fingerprint,
            201,
            body,
            Some(location.clone()),
            request.now,
        );
        Ok(Self { request, view, version, location, record })
    }

    /// What the store writes beside the item when the request has a key.
    pub fn idempotency(&self) -> Option<crate::store::transactions::IdempotentCreate<'_>> {
        let (record, scope) = (&self.record, self.request.scope);
        self.request.key.map(|key| crate::store::transactions::IdempotentCreate { record, scope, key })
    }

    /// Writes the item once per key: a key used before gives `replayed(first)` without a
    /// write; otherwise `create` writes the item with [`Self::idempotency`].
    pub async fn write<'s, O, F, Fut>(
        &'s self,
        store: &crate::store::Store,
        org_id: &str,
        replayed: fn(Box<crate::store::idempotency::IdempotencyRecord>) -> O,
        create: F,
    ) -> Result<O, ApiError>
    where
        F: FnOnce(Option<crate::store::transactions::IdempotentCreate<'s>>) -> Fut,
        Fut: std::future::Future<Output = Result<O, crate::store::StoreError>>,
    {
        if let Some(first) = self.request.first_answer(store, org_id).await? {
            return Ok(replayed(Box::new(first)));
        }
        Ok(create(self.idempotency()).await?)
    }

    /// The 201 with the item's view, `ETag` and `Location`.
    pub fn created(&self) -> axum::response::Response {
        crate::http::resource::created_response(&self.view, self.version, &self.location)
    }

    /// The answer to a request whose key was used before: see [`replay`].
    pub fn replay(
        &self,
        first: crate::store::idempotency::IdempotencyRecord,
    ) -> Result<axum::response::Response, ApiError> {
        replay(first, self.request.fingerprint)
    }
}
