//! The pull feed `GET /api/v1/rent-roll/feed?format=nested|flat|mits`: the organization's
//! active properties with their listed units, in the RentSync guide's payloads (nested as
//! the batch's `projects`, flat as one row per unit) or as a MITS 4.1 ILS XML feed for
//! listing sites. Paged by properties with the conventions' cursor: `meta.pagination`
//! in JSON, a `Link: <...>; rel="next"` header in XML.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{Permission, Principal, Scope};
use shared::domain::PropertyStatus;
use shared::http::envelope::{ApiResponse, ErrorEnvelope, Pagination, SuccessEnvelope};
use shared::http::listing::{PageRequest, with_next_link};
use shared::http::pagination;
use shared::http::query::Query;
use shared::store::properties::{PropertyOrder, PropertyQuery, PropertyRow};
use shared::{ApiError, Services, time_format};
use utoipa::{IntoParams, ToSchema};

use crate::payload::{Flat, FlatUnit, NestedBatch, NestedProject, NestedUnit, PropertySummary, SyncMetadata, SyncRun};

/// Properties per page unless `page_size` says otherwise.
const DEFAULT_PAGE_SIZE: usize = 20;
/// The route, for the `Link` of the next page.
pub const FEED_PATH: &str = "/api/v1/rent-roll/feed";

/// The shape of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// The RentSync guide's §4.2 per property, as a batch's `projects`.
    Nested,
    /// The RentSync guide's §4.3: one row per unit.
    Flat,
    /// MITS 4.1 ILS XML (`application/xml`).
    Mits,
}

impl FeedFormat {
    fn name(self) -> &'static str {
        match self {
            Self::Nested => "nested",
            Self::Flat => "flat",
            Self::Mits => "mits",
        }
    }
}

/// Query parameters of the feed. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `nested`, `flat` or `mits`.
    #[param(inline)]
    pub format: FeedFormat,
    /// Properties per page (each with all its listed units): 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` (JSON) or the `Link` header's (XML) of the previous page.
    pub cursor: Option<String>,
}

/// A page of the JSON feed: the nested batch or the flat rows.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum FeedPage {
    Nested(NestedBatch),
    Flat(Flat),
}

/// One of two objects told apart by their keys (two bare objects would both match every
/// page, which `oneOf` forbids).
impl utoipa::PartialSchema for FeedPage {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder};
        let shape = |keys: [&str; 2], description: &str| {
            keys.iter().fold(ObjectBuilder::new().description(Some(description)), |object, key| object.required(*key))
        };
        OneOfBuilder::new()
            .item(shape(["sync_metadata", "projects"], "nested"))
            .item(shape(["sync_timestamp", "units"], "flat"))
            .description(Some("A page of the JSON feed: the nested batch or the flat rows."))
            .into()
    }
}

impl ToSchema for FeedPage {
    fn name() -> std::borrow::Cow<'static, str> {
        "FeedPage".into()
    }
}

/// The rent roll as a feed.
#[utoipa::path(get, path = "/api/v1/rent-roll/feed", operation_id = "rentRollFeed", tag = "rent-roll", params(FeedParams),
    security(("bearer" = []), ("api_key" = []), ("oauth2" = ["read:properties"])),
    responses(
        (status = 200, description = "A page of the organization's active properties with their listed units: `{sync_metadata, projects: [{property, units}]}` (nested), `{sync_timestamp, units}` (flat), or MITS 4.1 `PhysicalProperty` XML (mits, with a `Link: <...>; rel=\"next\"` header while a page follows)",
            content((SuccessEnvelope<FeedPage> = "application/json"), (String = "application/xml")),
            headers(("Link" = String, description = "mits: the next page, while one follows"))),
        (status = 400, description = "Unknown format or parameter, a bad page_size or cursor", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Lacks property:read and unit:read, or (OAuth) read:properties", body = ErrorEnvelope),
    ))]
pub async fn feed(
    State(services): State<Services>,
    principal: Principal,
    Query(params): Query<FeedParams>,
) -> Result<Response, ApiError> {
    principal.authorize(Permission::PropertyRead, Some(Scope::ReadProperties))?;
    principal.authorize(Permission::UnitRead, Some(Scope::ReadProperties))?;
    let page_size = pagination::page_size(params.page_size, DEFAULT_PAGE_SIZE)?;
    let query = PropertyQuery {
        org_id: principal.org_id.clone(),
        order: PropertyOrder::CreatedAt { descending: false },
        status: Some(PropertyStatus::Active),
        property_type: None,
        created_after: None,
        created_before: None,
    };
    let scope = format!("rent-roll-feed|{}|{}", params.format.name(), query.fingerprint());
    let listing =
        PageRequest::in_organization(&services.cursors, &query.org_id, scope, page_size, params.cursor.as_deref())?;
    let page = services.store.properties().list(&query, listing.start.clone(), page_size).await?;
    let mut rolls = Vec::with_capacity(page.items.len());
    for row in page.items {
        let PropertyRow::Live(property) = row else { continue };
        let units = crate::listed_units(&services.store, &query.org_id, &property.id).await?;
        rolls.push((*property, units));
    }
    let next_cursor = page.next.map(|key| listing.cursor(&services.cursors, key));
    let now = time_format::now();
    let run = SyncRun::at(now);
    let data = match params.format {
        FeedFormat::Mits => {
            let body = crate::mits::feed(&rolls, now.date());
            let response = (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body);
            let route = format!("{FEED_PATH}?format=mits");
            return Ok(with_next_link(response.into_response(), &route, page_size, next_cursor));
        }
        FeedFormat::Nested => FeedPage::Nested(NestedBatch {
            sync_metadata: SyncMetadata::of(&run),
            projects: rolls
                .iter()
                .map(|(property, units)| NestedProject {
                    property: PropertySummary::from(property),
                    units: units.iter().map(NestedUnit::from).collect(),
                    removed_units: None,
                })
                .collect(),
        }),
        FeedFormat::Flat => FeedPage::Flat(Flat {
            sync_timestamp: run.timestamp(),
            units: rolls.iter().flat_map(|(_, units)| units.iter().map(FlatUnit::from)).collect(),
            removed_units: None,
        }),
    };
    let pagination = Pagination { page_size, has_next: next_cursor.is_some(), next_cursor };
    Ok(ApiResponse::page(data, pagination).into_response())
}
