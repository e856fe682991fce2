//! The seed 002 feed `GET /units?isActive=true|false`: a bare JSON array with the
//! seed's field names, across all properties of the organization.
//!
//! The body streams: each DynamoDB page (one `Query` of up to 1 MB over the
//! organization's units, plus one `BatchGetItem` for addresses of properties not seen
//! yet) is serialized into the response as it arrives, so memory stays bounded by a
//! page whatever the portfolio's size. The first page is read before the response
//! starts, so that errors on it still answer with a proper status and envelope.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::tenancy::Reach;
use shared::auth::{Principal, Scope};
use shared::domain::Address;
use shared::domain::unit::Unit;
use shared::http::envelope::ErrorEnvelope;
use shared::http::pagination::PageKey;
use shared::http::query::Query;
use shared::{ApiError, Services};
use utoipa::IntoParams;

use crate::views::FeedUnit;

/// Query parameters of the feed. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Required: `true` or `false`, the unit's `active` flag.
    #[serde(rename = "isActive")]
    #[param(rename = "isActive", required = true, value_type = bool)]
    pub is_active: Option<String>,
}

/// Parses a required seed boolean (`true` or `false`, nothing else).
pub fn required_bool(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::BadRequest(format!("{name} must be true or false"))),
        None => Err(ApiError::BadRequest(format!("{name} is required (true or false)"))),
    }
}

/// Units with their property's address (seed 002).
#[utoipa::path(get, path = "/units", operation_id = "unitFeed", tag = "feed", params(FeedParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "Every unit of the organization with this active flag, as a bare array", body = Vec<FeedUnit>),
        (status = 400, description = "isActive missing or not a boolean, or an unknown parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks unit:read", body = ErrorEnvelope),
    ))]
pub async fn units(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<FeedParams>,
) -> Result<Response, ApiError> {
    principal.authorize("unit:read", Some(Scope::ReadProperties))?;
    let active = required_bool("isActive", params.is_active.as_deref())?;
    let mut feed = Feed { services, org_id: principal.org_id.clone(), active, addresses: HashMap::new(), wrote: false };
    if let Reach::Tenant(own) = Reach::of(&principal) {
        let units = feed.tenant_units(own.as_deref()).await?;
        let mut body = String::from("[");
        body.push_str(&feed.render(&units).await?);
        body.push(']');
        return Ok(json_response(Body::from(body)));
    }
    let first = feed.services.store.units().feed_page(&feed.org_id, active, None).await?;
    let mut head = String::from("[");
    head.push_str(&feed.render(&first.items).await?);
    let step = first.next.map_or(Step::Close, Step::Page);
    let rest = futures::stream::unfold((feed, step), |(mut feed, step)| async move {
        match step {
            Step::Page(key) => match feed.next_page(key).await {
                Ok((chunk, next)) => Some((Ok(chunk), (feed, next.map_or(Step::Close, Step::Page)))),
                Err(err) => {
                    // The status line is gone; ending the body early is all that is left.
                    tracing::error!(error = %err, "unit feed failed mid-stream");
                    Some((Err(std::io::Error::other("unit feed failed")), (feed, Step::Done)))
                }
            },
            Step::Close => Some((Ok("]".to_owned()), (feed, Step::Done))),
            Step::Done => None,
        }
    });
    let stream = futures::StreamExt::chain(futures::stream::once(async move { Ok(head) }), rest);
    Ok(json_response(Body::from_stream(stream)))
}

fn json_response(body: Body) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

enum Step {
    Page(PageKey),
    Close,
    Done,
}

struct Feed {
    services: Services,
    org_id: String,
    active: bool,
    /// Addresses of the properties seen so far (`None`: the property is gone).
    addresses: HashMap<String, Option<Address>>,
    /// Whether an element was written (the next one needs a comma).
    wrote: bool,
}

impl Feed {
    async fn next_page(&mut self, key: PageKey) -> Result<(String, Option<PageKey>), ApiError> {
        let page = self.services.store.units().feed_page(&self.org_id, self.active, Some(key)).await?;
        Ok((self.render(&page.items).await?, page.next))
    }

    /// The units' JSON elements, each preceded by a comma but the very first.
    async fn render(&mut self, units: &[Unit]) -> Result<String, ApiError> {
        let missing: Vec<String> = units
            .iter()
            .map(|u| u.property_id.clone())
            .filter(|id| !self.addresses.contains_key(id))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            let mut found = self.services.store.units().property_addresses(&self.org_id, &missing).await?;
            for id in missing {
                let address = found.remove(&id);
                self.addresses.insert(id, address);
            }
        }
        let mut out = String::with_capacity(units.len() * 320);
        for unit in units {
            let address = self.addresses.get(&unit.property_id).and_then(Option::as_ref);
            let json = serde_json::to_string(&FeedUnit::new(unit, address)).map_err(ApiError::internal)?;
            if self.wrote {
                out.push(',');
            }
            out.push_str(&json);
            self.wrote = true;
        }
        Ok(out)
    }

    /// The units a tenant leases, with this feed's active flag.
    async fn tenant_units(&self, tenant_id: Option<&str>) -> Result<Vec<Unit>, ApiError> {
        let Some(tenant_id) = tenant_id else { return Ok(Vec::new()) };
        let leases = self.services.store.leases().of_tenant(&self.org_id, tenant_id).await?;
        let mut units: Vec<Unit> = Vec::new();
        for lease in &leases {
            if units.iter().any(|u| u.id == lease.unit_id) {
                continue;
            }
            if let Some(unit) =
                self.services.store.units().get(&self.org_id, &lease.property_id, &lease.unit_id).await?
                && unit.fields.active == self.active
            {
                units.push(unit);
            }
        }
        Ok(units)
    }
}
