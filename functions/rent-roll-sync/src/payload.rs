//! The RentSync rent-roll guide's payloads (§4), built from our properties and units:
//! pure functions, field names exactly as the guide writes them.
//!
//! Ids are Doorstep's prefixed ULIDs (strings) where the guide shows integers. Fields a
//! unit does not have are left out, except `pricing.price_amortized`, which the guide
//! calls nullable and which is `null` then.
//!
//! Delta payloads add `removed_units` (the guide's §8.4 leaves removals open): the units
//! RentSync should take down, as `{property_id, unit_id, unit_code}`. Snapshot payloads
//! never carry it. Batch payloads (§3.3 "single batch") put each property's
//! `{property, units[, removed_units]}` in a `projects` list (nested) or every property's
//! rows in one `units` list (flat).

use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::domain::Property;
use shared::domain::money::Money;
use shared::domain::unit::Unit;
use shared::store::rent_roll::PayloadFormat;
use time::OffsetDateTime;

/// The `source` of `sync_metadata`.
pub const SOURCE: &str = "doorstep";

/// One run of the sync: its id (the `X-Aigent-Sync-ID` header) and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub sync_id: String,
    pub at: OffsetDateTime,
}

impl SyncRun {
    /// The run triggered at `at`: `sync-2025-01-15-02-00-00`, as in the guide's §4.2.
    pub fn at(at: OffsetDateTime) -> Self {
        let at = at.replace_nanosecond(0).unwrap_or(at);
        let sync_id = format!(
            "sync-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        Self { sync_id, at }
    }

    /// `2025-01-15T02:00:00Z`: the guide's `sync_timestamp`, in whole seconds.
    pub fn timestamp(&self) -> String {
        self.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
    }
}

fn amount(money: Money) -> f64 {
    money.0 as f64 / 100.0
}

fn halves(value: Option<u32>) -> Option<f64> {
    value.map(|h| f64::from(h) / 2.0)
}

/// The property's address on one line: `123 Main Street, Calgary, AB T2P 1J9`.
pub fn one_line_address(property: &Property) -> String {
    let address = &property.fields.address;
    let region = format!("{} {}", address.state, address.postal_code);
    [address.street.as_str(), address.city.as_str(), region.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// §4.1: one unit with everything the guide describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SingleUnit {
    pub unit_id: String,
    pub project_id: String,
    pub project_name: String,
    pub property_address: String,
    pub unit_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floorplan: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub unit_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dwelling_type: Option<String>,
    pub status: Status,
    pub availability: Availability,
    pub pricing: Pricing,
    pub specifications: Specifications,
    pub attributes: Attributes,
    /// Only when a lead is assigned to the unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_assignment: Option<LeadAssignment>,
    pub sync_timestamp: String,
}

/// A POST of §4.1 units: one object per unit, and in a delta the units removed since.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Singles {
    pub units: Vec<SingleUnit>,
    /// Delta payloads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_units: Option<Vec<RemovedUnit>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadAssignment {
    pub lead_first_name: String,
    pub lead_last_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub id: u8,
    pub name: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    pub is_available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_available: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pricing {
    pub base_rent: f64,
    pub price_amortized: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Specifications {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_sqft: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bedrooms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bathrooms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dens: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
    pub has_garage: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pets_allowed: Option<u32>,
}

/// §4.1 for one unit of `property`.
pub fn single_unit(property: &Property, unit: &Unit, run: &SyncRun) -> SingleUnit {
    let fields = &unit.fields;
    SingleUnit {
        unit_id: unit.id.clone(),
        project_id: property.id.clone(),
        project_name: property.fields.name.clone(),
        property_address: one_line_address(property),
        unit_code: fields.unit_number.clone(),
        building: fields.building.clone(),
        floor: fields.floor,
        floorplan: fields.floorplan.clone(),
        unit_type: fields.unit_type.clone(),
        dwelling_type: fields.dwelling_type.clone(),
        status: Status { id: unit.status.id(), name: unit.status.name() },
        availability: Availability {
            is_available: unit.status.is_available(),
            when_available: fields.when_available.clone(),
        },
        pricing: Pricing { base_rent: amount(fields.base_rent), price_amortized: fields.price_amortized.map(amount) },
        specifications: Specifications {
            size_sqft: fields.sqft,
            bedrooms: halves(fields.bedrooms_halves),
            bathrooms: halves(fields.bathrooms_halves),
            dens: fields.dens,
        },
        attributes: Attributes {
            exposure: fields.exposure.clone(),
            view: fields.view.clone(),
            has_garage: fields.has_garage,
            pets_allowed: fields.pets,
        },
        lead_assignment: fields.assigned_lead.as_ref().map(|lead| LeadAssignment {
            lead_first_name: lead.first_name.clone(),
            lead_last_name: lead.last_name.clone(),
        }),
        sync_timestamp: run.timestamp(),
    }
}

/// §4.2: one property with its units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NestedProperty {
    pub sync_metadata: SyncMetadata,
    pub property: PropertySummary,
    pub units: Vec<NestedUnit>,
    /// Delta payloads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_units: Option<Vec<RemovedUnit>>,
}

/// §3.3 "single batch": every property with its units in one body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NestedBatch {
    pub sync_metadata: SyncMetadata,
    pub projects: Vec<NestedProject>,
}

/// One property of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NestedProject {
    pub property: PropertySummary,
    pub units: Vec<NestedUnit>,
    /// Delta payloads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_units: Option<Vec<RemovedUnit>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncMetadata {
    pub sync_id: String,
    pub sync_timestamp: String,
    pub source: &'static str,
}

impl SyncMetadata {
    pub fn of(run: &SyncRun) -> Self {
        Self { sync_id: run.sync_id.clone(), sync_timestamp: run.timestamp(), source: SOURCE }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertySummary {
    pub project_id: String,
    pub project_name: String,
    pub address: String,
}

impl From<&Property> for PropertySummary {
    fn from(property: &Property) -> Self {
        Self {
            project_id: property.id.clone(),
            project_name: property.fields.name.clone(),
            address: one_line_address(property),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NestedUnit {
    pub unit_id: String,
    pub unit_code: String,
    pub status_name: &'static str,
    pub is_available: bool,
    pub base_rent: f64,
}

impl From<&Unit> for NestedUnit {
    fn from(unit: &Unit) -> Self {
        Self {
            unit_id: unit.id.clone(),
            unit_code: unit.fields.unit_number.clone(),
            status_name: unit.status.name(),
            is_available: unit.status.is_available(),
            base_rent: amount(unit.fields.base_rent),
        }
    }
}

/// A unit a delta payload tells RentSync to take down: deleted, deactivated or no
/// longer listed since the last successful delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedUnit {
    pub property_id: String,
    pub unit_id: String,
    pub unit_code: String,
}

/// §4.2 for `property` and its `units`.
pub fn nested(property: &Property, units: &[Unit], run: &SyncRun) -> NestedProperty {
    NestedProperty {
        sync_metadata: SyncMetadata::of(run),
        property: PropertySummary::from(property),
        units: units.iter().map(NestedUnit::from).collect(),
        removed_units: None,
    }
}

/// §4.3: one row per unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flat {
    pub sync_timestamp: String,
    pub units: Vec<FlatUnit>,
    /// Delta payloads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_units: Option<Vec<RemovedUnit>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlatUnit {
    pub property_id: String,
    pub unit_id: String,
    pub unit_code: String,
    pub status_id: u8,
    pub status_name: &'static str,
    pub is_available: bool,
    pub base_rent: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bedrooms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bathrooms: Option<f64>,
}

impl From<&Unit> for FlatUnit {
    fn from(unit: &Unit) -> Self {
        Self {
            property_id: unit.property_id.clone(),
            unit_id: unit.id.clone(),
            unit_code: unit.fields.unit_number.clone(),
            status_id: unit.status.id(),
            status_name: unit.status.name(),
            is_available: unit.status.is_available(),
            base_rent: amount(unit.fields.base_rent),
            bedrooms: halves(unit.fields.bedrooms_halves),
            bathrooms: halves(unit.fields.bathrooms_halves),
        }
    }
}

/// §4.3 for `units` (of one or more properties).
pub fn flat(units: &[Unit], run: &SyncRun) -> Flat {
    Flat { sync_timestamp: run.timestamp(), units: units.iter().map(FlatUnit::from).collect(), removed_units: None }
}

/// The hash of what RentSync receives of a unit (the §4.1 fields, which include every
/// other format's), its sync timestamp left out: unchanged units hash the same.
pub fn unit_hash(property: &Property, unit: &Unit) -> String {
    let mut single = single_unit(property, unit, &SyncRun::at(OffsetDateTime::UNIX_EPOCH));
    single.sync_timestamp.clear();
    // Plain structs of strings, numbers and booleans always serialize.
    let json = serde_json::to_vec(&single).unwrap_or_default();
    shared::http::body::hex(&Sha256::digest(&json)[..16])
}

/// A POST body and its SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedBody {
    pub body: String,
    pub hash: String,
    /// Units carried, removals included.
    pub unit_count: u32,
}

impl RenderedBody {
    pub fn of(payload: &impl Serialize, unit_count: usize) -> Self {
        // Plain structs of strings, numbers and booleans always serialize.
        let body = serde_json::to_string(payload).unwrap_or_default();
        let hash = shared::http::body::hex(&Sha256::digest(body.as_bytes()));
        Self { body, hash, unit_count: u32::try_from(unit_count).unwrap_or(u32::MAX) }
    }
}

/// The POST body for `property` and its `units` in `format`, as a snapshot.
pub fn render(format: PayloadFormat, property: &Property, units: &[Unit], run: &SyncRun) -> RenderedBody {
    match format {
        // §4.1 shows one unit; a POST carries one such object per unit.
        PayloadFormat::Single => RenderedBody::of(
            &Singles {
                units: units.iter().map(|unit| single_unit(property, unit, run)).collect(),
                removed_units: None,
            },
            units.len(),
        ),
        PayloadFormat::Nested => RenderedBody::of(&nested(property, units, run), units.len()),
        PayloadFormat::Flat => RenderedBody::of(&flat(units, run), units.len()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::domain::money::Currency;
    use shared::domain::property::{Address, PropertyFields, PropertyStatus, PropertyType};
    use shared::domain::unit::{AssignedLead, UnitFields, UnitStatus};
    use time::macros::datetime;

    use super::*;

    fn property() -> Property {
        let fields = PropertyFields {
            name: "Sunset Apartments".into(),
            property_type: PropertyType::Residential,
            status: PropertyStatus::Active,
            address: Address {
                street: "123 Main Street".into(),
                city: "Calgary".into(),
                state: "AB".into(),
                postal_code: "T2P 1J9".into(),
                country: Some("CA".into()),
            },
            currency: Currency::parse("CAD").unwrap(),
            total_value: Money(0),
        };
        let mut property = Property::new("org_1", fields, datetime!(2025-01-01 0:00 UTC));
        property.id = "prop_101".into();
        property
    }

    fn unit(id: &str, code: &str, status: UnitStatus, rent: i64) -> Unit {
        let fields = UnitFields {
            unit_number: code.into(),
            building: Some("A".into()),
            floor: Some(1),
            floorplan: Some("1BR-OPEN".into()),
            unit_type: Some("1 Bed + Den".into()),
            dwelling_type: Some("Apartment".into()),
            sqft: Some(750),
            bedrooms_halves: Some(2),
            bathrooms_halves: Some(2),
            dens: Some(1),
            exposure: Some("SW".into()),
            view: Some("City View".into()),
            has_garage: true,
            pets: Some(1),
            parking_stalls: None,
            storage_boxes: None,
            currency: Currency::parse("CAD").unwrap(),
            base_rent: Money(rent),
            price_amortized: Some(Money(142_500)),
            when_available: Some("Immediate".into()),
            assigned_lead: Some(AssignedLead {
                id: "lead_1".into(),
                first_name: "John".into(),
                last_name: "Doe".into(),
                email: Some("john.doe@example.com".into()),
            }),
            owner_id: None,
            possession_start: None,
            possession_end: None,
            active: true,
        };
        Unit {
            id: id.into(),
            org_id: "org_1".into(),
            property_id: "prop_101".into(),
            fields,
            status,
            bookings: Vec::new(),
            booked_until: None,
            settled_until: None,
            created_at: datetime!(2025-01-01 0:00 UTC),
            updated_at: datetime!(2025-01-01 0:00 UTC),
            version: 1,
        }
    }

    fn run() -> SyncRun {
        SyncRun::at(datetime!(2025-01-15 2:00 UTC))
    }

    #[test]
    fn the_sync_id_is_the_guides_form_of_the_trigger_time() {
        let run = SyncRun::at(datetime!(2025-01-15 2:00:00.5 UTC));
        assert_eq!(run.sync_id, "sync-2025-01-15-02-00-00");
        assert_eq!(run.timestamp(), "2025-01-15T02:00:00Z");
    }

    #[test]
    fn a_single_unit_has_the_guides_fields_and_values() {
        let payload = serde_json::to_value(single_unit(
            &property(),
            &unit("unit_12345", "101", UnitStatus::Available, 150_000),
            &run(),
        ))
        .unwrap();
        // The guide's §4.1 example, with our ids.
        let expected = json!({
            "unit_id": "unit_12345",
            "project_id": "prop_101",
            "project_name": "Sunset Apartments",
            "property_address": "123 Main Street, Calgary, AB T2P 1J9",
            "unit_code": "101",
            "building": "A",
            "floor": 1,
            "floorplan": "1BR-OPEN",
            "type": "1 Bed + Den",
            "dwelling_type": "Apartment",
            "status": {"id": 1, "name": "Available"},
            "availability": {"is_available": true, "when_available": "Immediate"},
            "pricing": {"base_rent": 1500.0, "price_amortized": 1425.0},
            "specifications": {"size_sqft": 750, "bedrooms": 1.0, "bathrooms": 1.0, "dens": 1},
            "attributes": {"exposure": "SW", "view": "City View", "has_garage": true, "pets_allowed": 1},
            "lead_assignment": {"lead_first_name": "John", "lead_last_name": "Doe"},
            "sync_timestamp": "2025-01-15T02:00:00Z"
        });
        assert_same_fields(&payload, &expected);
    }

    #[test]
    fn the_nested_payload_has_the_guides_fields_and_values() {
        let units = [
            unit("unit_12345", "101", UnitStatus::Available, 150_000),
            unit("unit_12346", "102", UnitStatus::Rented, 210_000),
        ];
        let payload = serde_json::to_value(nested(&property(), &units, &run())).unwrap();
        let expected = json!({
            "sync_metadata": {
                "sync_id": "sync-2025-01-15-02-00-00",
                "sync_timestamp": "2025-01-15T02:00:00Z",
                "source": "doorstep"
            },
            "property": {
                "project_id": "prop_101",
                "project_name": "Sunset Apartments",
                "address": "123 Main Street, Calgary, AB T2P 1J9"
            },
            "units": [
                {"unit_id": "unit_12345", "unit_code": "101", "status_name": "Available", "is_available": true, "base_rent": 1500.0},
                {"unit_id": "unit_12346", "unit_code": "102", "status_name": "Rented", "is_available": false, "base_rent": 2100.0}
            ]
        });
        assert_same_fields(&payload, &expected);
    }

    #[test]
    fn the_flat_payload_has_the_guides_fields_and_values() {
        let units = [unit("unit_12345", "101", UnitStatus::Available, 150_000)];
        let payload = serde_json::to_value(flat(&units, &run())).unwrap();
        let expected = json!({
            "sync_timestamp": "2025-01-15T02:00:00Z",
            "units": [{
                "property_id": "prop_101",
                "unit_id": "unit_12345",
                "unit_code": "101",
                "status_id": 1,
                "status_name": "Available",
                "is_available": true,
                "base_rent": 1500.0,
                "bedrooms": 1.0,
                "bathrooms": 1.0
            }]
        });
        assert_same_fields(&payload, &expected);
    }

    #[test]
    fn fields_a_unit_lacks_are_left_out_and_price_amortized_is_null() {
        let mut bare = unit("unit_1", "7", UnitStatus::Notice, 99_950);
        bare.fields.building = None;
        bare.fields.sqft = None;
        bare.fields.bedrooms_halves = Some(3);
        bare.fields.bathrooms_halves = None;
        bare.fields.price_amortized = None;
        bare.fields.when_available = None;
        bare.fields.assigned_lead = None;
        let single = serde_json::to_value(single_unit(&property(), &bare, &run())).unwrap();
        assert!(single.get("building").is_none());
        assert!(single.get("lead_assignment").is_none(), "only when a lead is assigned");
        assert!(single["specifications"].get("size_sqft").is_none());
        assert_eq!(single["specifications"]["bedrooms"], json!(1.5));
        assert_eq!(single["pricing"], json!({"base_rent": 999.5, "price_amortized": null}));
        // Notice: the tenant gave notice, so the unit can be leased.
        assert_eq!(single["availability"], json!({"is_available": true}));
        let row = &serde_json::to_value(flat(&[bare], &run())).unwrap()["units"][0];
        assert!(row.get("bathrooms").is_none());
        assert_eq!(row["status_id"], 3);
    }

    #[test]
    fn the_body_hash_changes_with_the_content_only() {
        let units = [unit("unit_1", "101", UnitStatus::Available, 150_000)];
        let first = render(PayloadFormat::Nested, &property(), &units, &run());
        let again = render(PayloadFormat::Nested, &property(), &units, &run());
        assert_eq!(first, again);
        assert_eq!(first.unit_count, 1);
        let cheaper = [unit("unit_1", "101", UnitStatus::Available, 140_000)];
        assert_ne!(render(PayloadFormat::Nested, &property(), &cheaper, &run()).hash, first.hash);
        let flat = render(PayloadFormat::Flat, &property(), &units, &run());
        assert!(flat.body.starts_with("{\"sync_timestamp\""), "{}", flat.body);
    }

    /// Every field of `expected`, at every depth, has the same name, type and value in
    /// `actual`, and `actual` has no other field.
    fn assert_same_fields(actual: &Value, expected: &Value) {
        fn walk(path: &str, actual: &Value, expected: &Value) {
            match (actual, expected) {
                (Value::Object(a), Value::Object(e)) => {
                    let mut names: Vec<_> = a.keys().chain(e.keys()).collect();
                    names.sort();
                    names.dedup();
                    for name in names {
                        let field = format!("{path}.{name}");
                        match (a.get(name), e.get(name)) {
                            (Some(a), Some(e)) => walk(&field, a, e),
                            (None, _) => panic!("{field} is missing"),
                            (_, None) => panic!("{field} is not in the guide's example"),
                        }
                    }
                }
                (Value::Array(a), Value::Array(e)) => {
                    assert_eq!(a.len(), e.len(), "{path} length");
                    for (i, (a, e)) in a.iter().zip(e).enumerate() {
                        walk(&format!("{path}[{i}]"), a, e);
                    }
                }
                // 1500.0 must stay a float, 1 an integer, as in the guide.
                (Value::Number(a), Value::Number(e)) => {
                    assert_eq!((a.is_f64(), a.as_f64()), (e.is_f64(), e.as_f64()), "{path}");
                }
                _ => assert_eq!(actual, expected, "{path}"),
            }
        }
        walk("$", actual, expected);
    }
}
