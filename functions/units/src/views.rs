//! What clients see of a unit.

use serde::Serialize;
use shared::domain::calendar;
use shared::domain::money::Decimal2;
use shared::domain::unit::{AssignedLead, Unit, UnitStatus, halves_number};
use shared::time_format;
use utoipa::ToSchema;

/// A unit on `/api/v1`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitView {
    #[schema(example = "unit_01JD3V6Q4W8Y2K5N7P9R1T3V5X")]
    pub id: String,
    pub property_id: String,
    pub unit_number: String,
    pub building: Option<String>,
    pub floor: Option<i32>,
    pub floorplan: Option<String>,
    /// e.g. "1 Bed + Den".
    #[serde(rename = "type")]
    pub unit_type: Option<String>,
    pub dwelling_type: Option<String>,
    pub sqft: Option<u32>,
    #[schema(value_type = Option<f64>)]
    pub bedrooms: Option<serde_json::Number>,
    #[schema(value_type = Option<f64>)]
    pub bathrooms: Option<serde_json::Number>,
    pub dens: Option<u32>,
    pub exposure: Option<String>,
    pub view: Option<String>,
    pub has_garage: bool,
    pub pets: Option<u32>,
    pub parking_stalls: Option<u32>,
    pub storage_boxes: Option<u32>,
    /// ISO 4217.
    pub currency: String,
    /// Base monthly rent, two decimals.
    #[schema(value_type = f64, example = 1500.00)]
    pub base_rent: Decimal2,
    #[schema(value_type = Option<f64>)]
    pub price_amortized: Option<Decimal2>,
    /// The lead (leasing agent) assigned to the unit.
    pub assigned_lead: Option<AssignedLead>,
    pub owner_id: Option<String>,
    /// `YYYY-MM-DD`.
    pub possession_start: Option<String>,
    /// `YYYY-MM-DD`.
    pub possession_end: Option<String>,
    pub active: bool,
    #[serde(flatten)]
    pub availability: UnitStatusView,
    /// Whether a lease holds the unit today (UTC).
    pub occupied: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Increases with every change (including leases booked on the unit); the `ETag` carries it.
    pub version: u64,
}

/// The rent-roll availability of a unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitStatusView {
    pub status: UnitStatus,
    /// The rent-roll status id (1 Available, 2 Rented, 3 Notice, 4 Unavailable, 5 Maintenance, 6 Reserved).
    pub status_id: u8,
    /// Derived from the status: true for Available and Notice.
    pub is_available: bool,
    pub when_available: Option<String>,
}

impl From<&Unit> for UnitStatusView {
    fn from(u: &Unit) -> Self {
        Self {
            status: u.status,
            status_id: u.status.id(),
            is_available: u.status.is_available(),
            when_available: u.fields.when_available.clone(),
        }
    }
}

impl From<&Unit> for UnitView {
    fn from(u: &Unit) -> Self {
        let f = &u.fields;
        Self {
            id: u.id.clone(),
            property_id: u.property_id.clone(),
            unit_number: f.unit_number.clone(),
            building: f.building.clone(),
            floor: f.floor,
            floorplan: f.floorplan.clone(),
            unit_type: f.unit_type.clone(),
            dwelling_type: f.dwelling_type.clone(),
            sqft: f.sqft,
            bedrooms: f.bedrooms_halves.map(halves_number),
            bathrooms: f.bathrooms_halves.map(halves_number),
            dens: f.dens,
            exposure: f.exposure.clone(),
            view: f.view.clone(),
            has_garage: f.has_garage,
            pets: f.pets,
            parking_stalls: f.parking_stalls,
            storage_boxes: f.storage_boxes,
            currency: f.currency.as_str().to_owned(),
            base_rent: Decimal2(f.base_rent),
            price_amortized: f.price_amortized.map(Decimal2),
            assigned_lead: f.assigned_lead.clone(),
            owner_id: f.owner_id.clone(),
            possession_start: f.possession_start.map(calendar::format_date),
            possession_end: f.possession_end.map(calendar::format_date),
            active: f.active,
            availability: UnitStatusView::from(u),
            occupied: u.booking_on(calendar::today()).is_some(),
            created_at: time_format::format(u.created_at),
            updated_at: time_format::format(u.updated_at),
            version: u.version,
        }
    }
}

/// A unit in the partner feed's shape, keys in the partner's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedUnit {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "streetAddress")]
    pub street_address: Option<String>,
    #[serde(rename = "unitNumber")]
    pub unit_number: String,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    #[schema(value_type = Option<u32>)]
    pub sqft: Option<u32>,
    #[schema(value_type = Option<f64>)]
    pub bedrooms: Option<serde_json::Number>,
    #[serde(rename = "ownerID")]
    pub owner_id: Option<String>,
    /// `2024-01-01T00:00:00Z`: the first second of the possession start day.
    #[serde(rename = "possessionStartDate")]
    pub possession_start_date: Option<String>,
    /// `2025-12-31T23:59:59Z`: the last second of the possession end day.
    #[serde(rename = "possessionEndDate")]
    pub possession_end_date: Option<String>,
}

impl FeedUnit {
    pub fn new(u: &Unit, address: Option<&shared::domain::Address>) -> Self {
        Self {
            id: u.id.clone(),
            street_address: address.map(|a| a.street.clone()),
            unit_number: u.fields.unit_number.clone(),
            city: address.map(|a| a.city.clone()),
            state: address.map(|a| a.state.clone()),
            zip: address.map(|a| a.postal_code.clone()),
            sqft: u.fields.sqft,
            bedrooms: u.fields.bedrooms_halves.map(halves_number),
            owner_id: u.fields.owner_id.clone(),
            possession_start_date: u.fields.possession_start.map(calendar::start_of_day),
            possession_end_date: u.fields.possession_end.map(calendar::end_of_day),
        }
    }
}
