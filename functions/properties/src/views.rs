//! What clients see of a property.

use serde::Serialize;
use shared::domain::money::Decimal2;
use shared::domain::property::{Address, Property, PropertyStatus, PropertyType};
use shared::store::properties::{PropertyRow, PropertyTombstone};
use shared::time_format;
use utoipa::ToSchema;

/// A property on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyView {
    #[schema(example = "prop_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    pub status: PropertyStatus,
    pub address: Address,
    /// ISO 4217.
    pub currency: String,
    /// Decimal with two places, in `currency`.
    #[schema(value_type = f64, example = 1200000.00)]
    pub total_value: Decimal2,
    pub unit_count: u32,
    pub occupied_unit_count: u32,
    /// Percentage of units occupied, one decimal.
    pub occupancy_rate: f64,
    pub created_at: String,
    pub updated_at: String,
    /// Increases with every change; the `ETag` carries it.
    pub version: u64,
}

impl From<&Property> for PropertyView {
    fn from(p: &Property) -> Self {
        Self {
            id: p.id.clone(),
            name: p.fields.name.clone(),
            property_type: p.fields.property_type,
            status: p.fields.status,
            address: p.fields.address.clone(),
            currency: p.fields.currency.as_str().to_owned(),
            total_value: Decimal2(p.fields.total_value),
            unit_count: p.unit_count,
            occupied_unit_count: p.occupied_units(),
            occupancy_rate: p.occupancy_rate(),
            created_at: time_format::format(p.created_at),
            updated_at: time_format::format(p.updated_at),
            version: p.version,
        }
    }
}

/// A deletion, listed by `updated_since` so delta syncs can drop the property.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedPropertyView {
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
    pub deleted_at: String,
}

impl From<&PropertyTombstone> for DeletedPropertyView {
    fn from(t: &PropertyTombstone) -> Self {
        Self { id: t.id.clone(), deleted: true, deleted_at: time_format::format(t.deleted_at) }
    }
}

/// A row of a listing: a property, or a tombstone (with `updated_since` only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PropertyListItem {
    Property(Box<PropertyView>),
    Deleted(DeletedPropertyView),
}

impl From<&PropertyRow> for PropertyListItem {
    fn from(row: &PropertyRow) -> Self {
        match row {
            PropertyRow::Live(p) => Self::Property(Box::new(PropertyView::from(p.as_ref()))),
            PropertyRow::Deleted(t) => Self::Deleted(DeletedPropertyView::from(t)),
        }
    }
}

/// A whole number when it has no fraction (the integration API shows `100`, not `100.0`).
fn seed_number(value: f64) -> serde_json::Number {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        serde_json::Number::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

/// A property in the integration API's exact shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationProperty {
    pub id: String,
    /// The street address.
    pub address: String,
    pub city: String,
    pub state: String,
    /// Number of units.
    pub units: u32,
    #[schema(value_type = f64, example = 1200000)]
    pub total_value: serde_json::Number,
    #[schema(value_type = f64, example = 100)]
    pub occupancy_rate: serde_json::Number,
}

impl From<&Property> for IntegrationProperty {
    fn from(p: &Property) -> Self {
        Self {
            id: p.id.clone(),
            address: p.fields.address.street.clone(),
            city: p.fields.address.city.clone(),
            state: p.fields.address.state.clone(),
            units: p.unit_count,
            total_value: p.fields.total_value.to_seed_number(),
            occupancy_rate: seed_number(p.occupancy_rate()),
        }
    }
}

/// `GET /api/ai/properties`: `{"properties": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationPropertyList {
    pub properties: Vec<IntegrationProperty>,
}

/// The detail of one property: the integration API's fields plus the rest of the record.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationPropertyDetail {
    #[serde(flatten)]
    pub summary: IntegrationProperty,
    pub name: String,
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    pub status: PropertyStatus,
    pub postal_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub currency: String,
    pub occupied_units: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /api/ai/properties/{property_id}`: `{"property": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationPropertyEnvelope {
    pub property: IntegrationPropertyDetail,
}

impl From<&Property> for IntegrationPropertyEnvelope {
    fn from(p: &Property) -> Self {
        Self {
            property: IntegrationPropertyDetail {
                summary: IntegrationProperty::from(p),
                name: p.fields.name.clone(),
                property_type: p.fields.property_type,
                status: p.fields.status,
                postal_code: p.fields.address.postal_code.clone(),
                country: p.fields.address.country.clone(),
                currency: p.fields.currency.as_str().to_owned(),
                occupied_units: p.occupied_units(),
                created_at: time_format::format(p.created_at),
                updated_at: time_format::format(p.updated_at),
            },
        }
    }
}
