//! The bodies `/api/v1/properties` accepts, and how each becomes a property's
//! validated fields.

use serde::Deserialize;
use shared::domain::Problems;
use shared::domain::money::{Currency, Money};
use shared::domain::patch::{Patch, overlay_optional, overlay_required};
use shared::domain::property::{Address, DEFAULT_CURRENCY, PropertyFields, PropertyStatus, PropertyType};
use utoipa::ToSchema;

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
    use shared::http::body::parse;

    fn input(json: &str) -> PropertyInput {
        parse::<PropertyInput>(json.as_bytes()).unwrap().value
    }

    const SPEC_EXAMPLE: &str = r#"{"name":"Sunset Apartments","type":"residential",
        "address":{"street":"123 Main St","city":"Vancouver","province":"BC","postal_code":"V6B 1A1"}}"#;

    #[test]
    fn the_seed_create_example_is_valid() {
        let fields = input(SPEC_EXAMPLE).validate().unwrap();
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
        let current = input(SPEC_EXAMPLE).validate().unwrap();
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
}
