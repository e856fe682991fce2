//! Listing parameters: filters, sort and pagination, turned into one repository query.

use serde::Deserialize;
use shared::ApiError;
use shared::domain::Problems;
use shared::domain::property::{PropertyStatus, PropertyType};
use shared::http::listing::PageRequest;
use shared::store::page::Page;
use shared::store::properties::{PropertyOrder, PropertyQuery, PropertyRow};
use shared::{Services, time_format};
use time::OffsetDateTime;
use utoipa::IntoParams;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    CreatedAt,
    Name,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Query parameters of `GET /api/v1/properties`. Unknown parameters are a 400.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100, default 20.
    pub page_size: Option<usize>,
    /// `meta.pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub status: Option<PropertyStatus>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub property_type: Option<PropertyType>,
    /// ISO 8601 date or timestamp (inclusive).
    pub created_after: Option<String>,
    /// ISO 8601 date or timestamp (exclusive).
    pub created_before: Option<String>,
    /// ISO 8601 date or timestamp: properties changed at or after it, oldest change
    /// first, including tombstones (`"deleted": true`) of deleted ones.
    pub updated_since: Option<String>,
    /// `created_at` (default), `name`, or `updated_at` (requires `updated_since`).
    pub sort_by: Option<SortBy>,
    /// `asc` (default) or `desc`.
    pub sort_order: Option<SortOrder>,
}

/// An ISO 8601 timestamp, or a date meaning its start in UTC.
fn instant(field: &str, raw: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time_format::parse(raw)
        .or_else(|| time::Date::parse(raw, &date_format).ok().map(|d| d.midnight().assume_utc()))
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest(format!("{field} must be an ISO 8601 date or timestamp")))
}

impl ListParams {
    pub fn query(&self, org_id: &str) -> Result<PropertyQuery, ApiError> {
        let descending = self.sort_order == Some(SortOrder::Desc);
        let updated_since = instant("updated_since", self.updated_since.as_deref())?;
        let order = match (self.sort_by, updated_since) {
            (None | Some(SortBy::UpdatedAt), Some(since)) => {
                if descending {
                    return Err(ApiError::BadRequest(
                        "updated_since lists changes oldest first; sort_order=desc is not supported with it".into(),
                    ));
                }
                PropertyOrder::UpdatedSince { since }
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRequest(
                    "updated_since lists changes by updated_at; no other sort_by is supported with it".into(),
                ));
            }
            (Some(SortBy::UpdatedAt), None) => {
                return Err(ApiError::BadRequest("sort_by=updated_at requires updated_since".into()));
            }
            (Some(SortBy::Name), None) => PropertyOrder::Name { descending },
            (None | Some(SortBy::CreatedAt), None) => PropertyOrder::CreatedAt { descending },
        };
        let created_after = instant("created_after", self.created_after.as_deref())?;
        let created_before = instant("created_before", self.created_before.as_deref())?;
        if let (Some(after), Some(before)) = (created_after, created_before)
            && after > before
        {
            let mut problems = Problems::new();
            problems.add("created_after", "must not be later than created_before");
            problems.add("created_before", "must not be earlier than created_after");
            return Err(problems.into());
        }
        Ok(PropertyQuery {
            org_id: org_id.to_owned(),
            order,
            status: self.status,
            property_type: self.property_type,
            created_after,
            created_before,
        })
    }
}

/// Reads one page of `query`, continuing from `cursor`, and returns it with the
/// listing its next cursor is bound to.
pub async fn page(
    services: &Services,
    query: &PropertyQuery,
    cursor: Option<&str>,
    page_size: usize,
) -> Result<(Page<PropertyRow>, PageRequest), ApiError> {
    // Every index a property listing reads is keyed by the organization's partition.
    let listing =
        PageRequest::in_organization(&services.cursors, &query.org_id, query.fingerprint(), page_size, cursor)?;
    let page = services.store.properties().list(query, listing.start.clone(), page_size).await?;
    Ok((page, listing))
}
