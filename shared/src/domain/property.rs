//! Properties: the buildings or sites an organization manages.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::money::{Currency, Money};
use crate::domain::patch::{Patch, overlay_optional, overlay_required};
use crate::domain::validation::Problems;

use crate::time_format;

pub const ID_PREFIX: &str = "prop";
/// Used when a property is created without a currency.
pub const DEFAULT_CURRENCY: &str = "USD";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    Residential,
    Commercial,
    Mixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropertyStatus {
    #[default]
    Active,
    Inactive,
    Archived,
}

impl PropertyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Residential => "residential",
            Self::Commercial => "commercial",
            Self::Mixed => "mixed",
        }
    }
}

impl PropertyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Archived => "archived",
        }
    }
}

/// A postal address. `state` holds the state, province or region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A stored property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Property {
    pub id: String,
    pub org_id: String,
    #[serde(flatten)]
    pub fields: PropertyFields,
    /// Kept current by the units function.
    pub unit_count: u32,
    /// Units occupied before the first day of `occupancy` (kept by the leases function).
    pub occupied_unit_count: u32,
    /// Occupancy changes by day (`YYYY-MM-DD` → +1 when a lease starts, −1 the day after
    /// it ends), so occupancy on any day is known without a write on that day.
    #[serde(default)]
    pub occupancy: std::collections::BTreeMap<String, i64>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// The client-writable fields of a property, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyFields {
    pub name: String,
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    pub status: PropertyStatus,
    pub address: Address,
    pub currency: Currency,
    pub total_value: Money,
}

impl Property {
    pub fn new(org_id: &str, fields: PropertyFields, now: OffsetDateTime) -> Self {
        Self {
            id: crate::domain::ids::new(ID_PREFIX),
            org_id: org_id.to_owned(),
            fields,
            unit_count: 0,
            occupied_unit_count: 0,
            occupancy: std::collections::BTreeMap::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The next version of this property with new fields.
    pub fn revised(&self, fields: PropertyFields, now: OffsetDateTime) -> Self {
        Self { fields, updated_at: now, version: self.version + 1, ..self.clone() }
    }

    /// Units occupied on `day`: those with a lease whose period contains it.
    pub fn occupied_units_on(&self, day: time::Date) -> u32 {
        let key = crate::domain::calendar::format_date(day);
        let changes: i64 = self.occupancy.range(..=key).map(|(_, delta)| delta).sum();
        u32::try_from((i64::from(self.occupied_unit_count) + changes).max(0)).unwrap_or(u32::MAX)
    }

    /// Units occupied today (UTC).
    pub fn occupied_units(&self) -> u32 {
        self.occupied_units_on(crate::domain::calendar::today())
    }

    /// Occupied units today as a percentage of all units, to one decimal (0 with no units).
    pub fn occupancy_rate(&self) -> f64 {
        if self.unit_count == 0 {
            return 0.0;
        }
        (f64::from(self.occupied_units()) * 1000.0 / f64::from(self.unit_count)).round() / 10.0
    }
}

/// The body of `POST` and `PUT`: every writable field. Server-owned fields (`id`,
/// `version`, `unit_count`, timestamps, ...) are rejected with 422.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyInput {
    /// 1 to 200 characters.
    pub name: String,
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    /// Defaults to `active`.
    #[serde(default)]
    pub status: Option<PropertyStatus>,
    pub address: AddressInput,
    /// ISO 4217; defaults to `USD`.
    #[serde(default)]
    pub currency: Option<String>,
    /// In major units with at most two decimals; defaults to 0.
    #[serde(default)]
    #[schema(value_type = Option<f64>, minimum = 0)]
    pub total_value: Option<serde_json::Number>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub street: String,
    pub city: String,
    /// State, province or region (`province` is accepted as an alias).
    #[serde(alias = "province")]
    pub state: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `US`, `CA`, `IN`.
    #[serde(default)]
    pub country: Option<String>,
}

/// The body of `PATCH`: only the fields named change; `address` merges field by field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<PropertyType>)]
    pub property_type: Patch<PropertyType>,
    #[serde(default)]
    #[schema(value_type = Option<PropertyStatus>)]
    pub status: Patch<PropertyStatus>,
    #[serde(default)]
    #[schema(value_type = Option<AddressPatch>)]
    pub address: Patch<AddressPatch>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub currency: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub total_value: Patch<serde_json::Number>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub street: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub city: Patch<String>,
    #[serde(default, alias = "province")]
    #[schema(value_type = Option<String>)]
    pub state: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub postal_code: Patch<String>,
    /// `null` removes the country.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub country: Patch<String>,
}

fn country(problems: &mut Problems, field: &str, raw: Option<&str>) -> Option<String> {
    let code = raw?.trim().to_ascii_uppercase();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        problems.add(field, "must be a two-letter ISO 3166-1 code such as US");
    }
    Some(code)
}

impl PropertyInput {
    /// Validates every field, reporting all problems at once.
    pub fn validate(&self) -> Result<PropertyFields, Problems> {
        let mut p = Problems::new();
        let name = p.text("name", &self.name, 1, 200);
        let address = Address {
            street: p.text("address.street", &self.address.street, 1, 200),
            city: p.text("address.city", &self.address.city, 1, 100),
            state: p.text("address.state", &self.address.state, 1, 100),
            postal_code: p.text("address.postal_code", &self.address.postal_code, 1, 20),
            country: country(&mut p, "address.country", self.address.country.as_deref()),
        };
        let currency = p.check("currency", Currency::parse(self.currency.as_deref().unwrap_or(DEFAULT_CURRENCY)));
        let total_value = match &self.total_value {
            Some(number) => p.check("total_value", Money::parse_non_negative(number)),
            None => Some(Money::default()),
        };
        p.into_result()?;
        Ok(PropertyFields {
            name,
            property_type: self.property_type,
            status: self.status.unwrap_or_default(),
            address,
            // Both are Some when there were no problems.
            currency: currency.ok_or_else(|| Problems::one("currency", "is invalid"))?,
            total_value: total_value.ok_or_else(|| Problems::one("total_value", "is invalid"))?,
        })
    }
}

impl From<&PropertyFields> for PropertyInput {
    fn from(fields: &PropertyFields) -> Self {
        Self {
            name: fields.name.clone(),
            property_type: fields.property_type,
            status: Some(fields.status),
            address: AddressInput {
                street: fields.address.street.clone(),
                city: fields.address.city.clone(),
                state: fields.address.state.clone(),
                postal_code: fields.address.postal_code.clone(),
                country: fields.address.country.clone(),
            },
            currency: Some(fields.currency.as_str().to_owned()),
            total_value: Some(fields.total_value.to_seed_number()),
        }
    }
}

/// Overlays one patch field; `null` on a required field is a problem.
impl PropertyPatch {
    /// Applies the patch to the current fields and validates the result as a whole.
    pub fn apply(self, current: &PropertyFields) -> Result<PropertyFields, Problems> {
        let mut p = Problems::new();
        let mut input = PropertyInput::from(current);
        overlay_required(&mut p, "name", &mut input.name, self.name);
        overlay_required(&mut p, "type", &mut input.property_type, self.property_type);
        let mut status = current.status;
        overlay_required(&mut p, "status", &mut status, self.status);
        input.status = Some(status);
        let mut currency = current.currency.as_str().to_owned();
        overlay_required(&mut p, "currency", &mut currency, self.currency);
        input.currency = Some(currency);
        let mut total_value = current.total_value.to_seed_number();
        overlay_required(&mut p, "total_value", &mut total_value, self.total_value);
        input.total_value = Some(total_value);
        match self.address {
            Patch::Absent => {}
            Patch::Null => p.add("address", "must not be null"),
            Patch::Value(address) => {
                let a = &mut input.address;
                overlay_required(&mut p, "address.street", &mut a.street, address.street);
                overlay_required(&mut p, "address.city", &mut a.city, address.city);
                overlay_required(&mut p, "address.state", &mut a.state, address.state);
                overlay_required(&mut p, "address.postal_code", &mut a.postal_code, address.postal_code);
                overlay_optional(&mut a.country, address.country);
            }
        }
        p.into_result()?;
        input.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::parse;

    fn input(json: &str) -> PropertyInput {
        parse::<PropertyInput>(json.as_bytes()).unwrap().value
    }

    const SEED_EXAMPLE: &str = r#"{"name":"Sunset Apartments","type":"residential",
        "address":{"street":"123 Main St","city":"Vancouver","province":"BC","postal_code":"V6B 1A1"}}"#;

    #[test]
    fn the_seed_create_example_is_valid() {
        let fields = input(SEED_EXAMPLE).validate().unwrap();
        assert_eq!(fields.address.state, "BC");
        assert_eq!(fields.status, PropertyStatus::Active);
        assert_eq!(fields.currency.as_str(), "USD");
        assert_eq!(fields.total_value, Money(0));
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = input(
            r#"{"name":" ","type":"mixed","currency":"dollars","total_value":-5,
            "address":{"street":"","city":"X","state":"Y","postal_code":"1","country":"USA"}}"#,
        );
        let problems = bad.validate().unwrap_err();
        let fields: Vec<_> = problems.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["name", "address.street", "address.country", "currency", "total_value"]);
    }

    #[test]
    fn patch_merges_address_and_rejects_nulls() {
        let current = input(SEED_EXAMPLE).validate().unwrap();
        let patch: PropertyPatch =
            parse(br#"{"address":{"city":"Burnaby","country":"ca"},"total_value":1500.25}"#).unwrap().value;
        let next = patch.apply(&current).unwrap();
        assert_eq!(next.address.city, "Burnaby");
        assert_eq!(next.address.street, "123 Main St");
        assert_eq!(next.address.country.as_deref(), Some("CA"));
        assert_eq!(next.total_value, Money(150_025));
        let nulled: PropertyPatch = parse(br#"{"name":null}"#).unwrap().value;
        assert_eq!(nulled.apply(&current), Err(Problems::one("name", "must not be null")));
    }

    #[test]
    fn occupancy_rate_is_a_rounded_percentage() {
        let mut property = Property::new("org_x", input(SEED_EXAMPLE).validate().unwrap(), time_format::now());
        assert_eq!(property.occupancy_rate(), 0.0);
        property.unit_count = 3;
        property.occupied_unit_count = 2;
        assert_eq!(property.occupancy_rate(), 66.7);
    }

    #[test]
    fn occupancy_follows_the_day_ledger_without_writes() {
        let mut property = Property::new("org_x", input(SEED_EXAMPLE).validate().unwrap(), time_format::now());
        property.unit_count = 2;
        // A lease from 2030-01-01 to 2030-01-31: +1 on its first day, -1 the day after its last.
        property.occupancy.insert("2030-01-01".into(), 1);
        property.occupancy.insert("2030-02-01".into(), -1);
        let day = |d: &str| crate::domain::calendar::parse_date(d).unwrap();
        assert_eq!(property.occupied_units_on(day("2029-12-31")), 0);
        assert_eq!(property.occupied_units_on(day("2030-01-01")), 1);
        assert_eq!(property.occupied_units_on(day("2030-01-31")), 1);
        assert_eq!(property.occupied_units_on(day("2030-02-01")), 0);
    }
}
