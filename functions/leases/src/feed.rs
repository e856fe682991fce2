//! The seed 002 feed `GET /leases?isActive=true|false[&status=Past|Current|Future]`: a
//! bare JSON array with the seed's field names, across the whole organization.
//!
//! A lease is active while it holds its unit today or later (status Current or
//! Future); `isActive=false` lists Past leases. The body streams page by page: one
//! `Query` of up to 1 MB over the organization's leases, plus one `BatchGetItem` for
//! tenants not seen yet, serialized into the response as each page arrives.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::Principal;
use shared::auth::tenancy::Reach;
use shared::domain::calendar;
use shared::domain::lease::{Lease, LeaseStatus};
use shared::http::envelope::ErrorEnvelope;
use shared::http::pagination::PageKey;
use shared::http::query::Query;
use shared::store::leases::LeaseFilter;
use shared::{ApiError, Services};
use time::Date;
use utoipa::IntoParams;

use crate::views::{FeedLease, FeedTenant};

/// Query parameters of the feed. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Required: `true` (Current and Future leases) or `false` (Past leases).
    #[serde(rename = "isActive")]
    #[param(rename = "isActive", required = true, value_type = bool)]
    pub is_active: Option<String>,
    /// `Past`, `Current` or `Future`.
    #[param(value_type = Option<LeaseStatus>)]
    pub status: Option<String>,
}

/// Leases with their tenants (seed 002).
#[utoipa::path(get, path = "/leases", operation_id = "leaseFeed", tag = "feed", params(FeedParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Every matching lease of the organization, as a bare array", body = Vec<FeedLease>),
        (status = 400, description = "isActive missing or not a boolean, an unknown status, or an unknown parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks lease:read", body = ErrorEnvelope),
    ))]
pub async fn leases(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<FeedParams>,
) -> Result<Response, ApiError> {
    principal.authorize("lease:read", None)?;
    let active = match params.is_active.as_deref() {
        Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(ApiError::BadRequest("isActive must be true or false".into())),
        None => return Err(ApiError::BadRequest("isActive is required (true or false)".into())),
    };
    let status = match params.status.as_deref() {
        None => None,
        Some("Past") => Some(LeaseStatus::Past),
        Some("Current") => Some(LeaseStatus::Current),
        Some("Future") => Some(LeaseStatus::Future),
        Some(_) => return Err(ApiError::BadRequest("status must be Past, Current or Future".into())),
    };
    let mut filter = LeaseFilter { status, active: Some(active), ..Default::default() };
    if let Reach::Tenant(own) = Reach::of(&principal) {
        match own {
            Some(own) => filter.tenant_id = Some(own),
            None => return Ok(json_response(Body::from("[]"))),
        }
    }
    let mut feed = Feed {
        services,
        org_id: principal.org_id.clone(),
        filter,
        today: calendar::today(),
        tenants: HashMap::new(),
        wrote: false,
    };
    let first = feed.services.store.leases().feed_page(&feed.org_id, &feed.filter, feed.today, None).await?;
    let mut head = String::from("[");
    head.push_str(&feed.render(&first.items).await?);
    let step = first.next.map_or(Step::Close, Step::Page);
    let rest = futures::stream::unfold((feed, step), |(mut feed, step)| async move {
        match step {
            Step::Page(key) => match feed.next_page(key).await {
                Ok((chunk, next)) => Some((Ok(chunk), (feed, next.map_or(Step::Close, Step::Page)))),
                Err(err) => {
                    // The status line is gone; ending the body early is all that is left.
                    tracing::error!(error = %err, "lease feed failed mid-stream");
                    Some((Err(std::io::Error::other("lease feed failed")), (feed, Step::Done)))
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
    filter: LeaseFilter,
    today: Date,
    /// Tenants seen so far (`None`: deleted).
    tenants: HashMap<String, Option<FeedTenant>>,
    wrote: bool,
}

impl Feed {
    async fn next_page(&mut self, key: PageKey) -> Result<(String, Option<PageKey>), ApiError> {
        let page = self.services.store.leases().feed_page(&self.org_id, &self.filter, self.today, Some(key)).await?;
        Ok((self.render(&page.items).await?, page.next))
    }

    async fn render(&mut self, leases: &[Lease]) -> Result<String, ApiError> {
        let missing: Vec<String> = leases
            .iter()
            .flat_map(|l| l.tenant_ids.iter())
            .filter(|id| !self.tenants.contains_key(*id))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            let found = self.services.store.tenants().get_many(&self.org_id, &missing).await?;
            let mut by_id: HashMap<String, FeedTenant> =
                found.iter().map(|t| (t.id.clone(), FeedTenant::from(t))).collect();
            for id in missing {
                let tenant = by_id.remove(&id);
                self.tenants.insert(id, tenant);
            }
        }
        let mut out = String::with_capacity(leases.len() * 400);
        for lease in leases {
            let view = FeedLease::new(lease, |id| self.tenants.get(id).cloned().flatten());
            let json = serde_json::to_string(&view).map_err(ApiError::internal)?;
            if self.wrote {
                out.push(',');
            }
            out.push_str(&json);
            self.wrote = true;
        }
        Ok(out)
    }
}
