//! The bodies `/api/v1/properties/{property_id}/units` accepts, and how each becomes a
//! unit's validated fields.

use serde::Deserialize;
use shared::domain::Problems;
use shared::domain::calendar;
use shared::domain::money::{Currency, Money};
use shared::domain::patch::{Patch, overlay_optional, overlay_required};
use shared::domain::tenant::is_email;
use shared::domain::unit::{AssignedLead, UnitFields, UnitStatus, halves_number};
use utoipa::ToSchema;

/// The body of `POST` and `PUT`: every writable field. Unknown and server-owned fields
/// (`id`, `version`, `property_id`, ...) are rejected with 422. `status` is set on create
/// and afterwards through `/status`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitInput {
    /// Unit number or code ("A101"), unique within the property (case-insensitive); 1 to 20 characters.
    #[serde(alias = "unit_code")]
    pub unit_number: String,
    #[serde(default)]
    pub building: Option<String>,
    #[serde(default)]
    pub floor: Option<i32>,
    #[serde(default)]
    pub floorplan: Option<String>,
    /// Unit type, e.g. "1 Bed + Den".
    #[serde(default, rename = "type")]
    pub unit_type: Option<String>,
    /// Apartment, Townhome, Condo, ...
    #[serde(default)]
    pub dwelling_type: Option<String>,
    /// Size in square feet.
    #[serde(default, alias = "size")]
    pub sqft: Option<u32>,
    /// In steps of 0.5.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub bedrooms: Option<serde_json::Number>,
    /// In steps of 0.5.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub bathrooms: Option<serde_json::Number>,
    #[serde(default)]
    pub dens: Option<u32>,
    /// SW, NE, ...
    #[serde(default)]
    pub exposure: Option<String>,
    #[serde(default)]
    pub view: Option<String>,
    #[serde(default)]
    pub has_garage: Option<bool>,
    /// Number of pets allowed (also accepted as `pets_allowed`, the RentSync guide's name).
    #[serde(default, alias = "pets_allowed")]
    pub pets: Option<u32>,
    #[serde(default)]
    pub parking_stalls: Option<u32>,
    #[serde(default)]
    pub storage_boxes: Option<u32>,
    /// ISO 4217; defaults to `USD`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Base monthly rent, two decimals at most; defaults to 0.
    #[serde(default, alias = "price")]
    #[schema(value_type = Option<f64>)]
    pub base_rent: Option<serde_json::Number>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub price_amortized: Option<serde_json::Number>,
    /// When the unit can be moved into: free text such as "Immediate" or "December"; up to 50 characters.
    #[serde(default)]
    pub when_available: Option<String>,
    /// The lead (leasing agent) assigned to the unit; sent to listing partners as `lead_assignment`.
    #[serde(default)]
    pub assigned_lead: Option<AssignedLeadInput>,
    /// The owner's id in the organization's records.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// `YYYY-MM-DD`: no lease may start earlier.
    #[serde(default)]
    pub possession_start: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub possession_end: Option<String>,
    /// Defaults to `true`.
    #[serde(default)]
    pub active: Option<bool>,
    /// Create only; defaults to `Available`.
    #[serde(default)]
    pub status: Option<UnitStatus>,
}

/// The lead assigned to a unit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignedLeadInput {
    /// The lead's id in the organization's leasing records; 1 to 100 characters.
    pub id: String,
    /// 1 to 100 characters.
    pub first_name: String,
    /// 1 to 100 characters.
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
}

impl AssignedLeadInput {
    fn validate(&self, p: &mut Problems) -> AssignedLead {
        let email = self.email.as_ref().map(|e| e.trim().to_owned());
        if email.as_deref().is_some_and(|e| !is_email(e)) {
            p.add("assigned_lead.email", "must be an email address");
        }
        AssignedLead {
            id: p.text("assigned_lead.id", &self.id, 1, 100),
            first_name: p.text("assigned_lead.first_name", &self.first_name, 1, 100),
            last_name: p.text("assigned_lead.last_name", &self.last_name, 1, 100),
            email,
        }
    }
}

impl From<&AssignedLead> for AssignedLeadInput {
    fn from(lead: &AssignedLead) -> Self {
        Self {
            id: lead.id.clone(),
            first_name: lead.first_name.clone(),
            last_name: lead.last_name.clone(),
            email: lead.email.clone(),
        }
    }
}

fn optional_text(p: &mut Problems, field: &str, value: Option<&String>, max: usize) -> Option<String> {
    value.map(|v| p.text(field, v, 1, max))
}

fn halves(p: &mut Problems, field: &str, value: Option<&serde_json::Number>) -> Option<u32> {
    let value = value?;
    let Some(number) = value.as_f64() else {
        p.add(field, "must be a number");
        return None;
    };
    let doubled = number * 2.0;
    if !(0.0..=100.0).contains(&doubled) || doubled.fract() != 0.0 {
        p.add(field, "must be between 0 and 50 in steps of 0.5");
        return None;
    }
    Some(doubled as u32)
}

fn money(p: &mut Problems, field: &str, value: Option<&serde_json::Number>) -> Option<Money> {
    value.and_then(|v| p.check(field, Money::parse_non_negative(v)))
}

impl UnitInput {
    /// Validates every field, reporting all problems at once.
    pub fn validate(&self) -> Result<UnitFields, Problems> {
        let mut p = Problems::new();
        let unit_number = p.text("unit_number", &self.unit_number, 1, 20);
        let building = optional_text(&mut p, "building", self.building.as_ref(), 50);
        let floorplan = optional_text(&mut p, "floorplan", self.floorplan.as_ref(), 50);
        let unit_type = optional_text(&mut p, "type", self.unit_type.as_ref(), 50);
        let dwelling_type = optional_text(&mut p, "dwelling_type", self.dwelling_type.as_ref(), 50);
        let exposure = optional_text(&mut p, "exposure", self.exposure.as_ref(), 20);
        let view = optional_text(&mut p, "view", self.view.as_ref(), 200);
        let owner_id = optional_text(&mut p, "owner_id", self.owner_id.as_ref(), 100);
        let when_available = optional_text(&mut p, "when_available", self.when_available.as_ref(), 50);
        let assigned_lead = self.assigned_lead.as_ref().map(|lead| lead.validate(&mut p));
        if self.floor.is_some_and(|f| !(-10..=300).contains(&f)) {
            p.add("floor", "must be between -10 and 300");
        }
        if self.sqft.is_some_and(|s| s > 1_000_000) {
            p.add("sqft", "must be at most 1000000");
        }
        for (field, value) in [
            ("dens", self.dens),
            ("pets", self.pets),
            ("parking_stalls", self.parking_stalls),
            ("storage_boxes", self.storage_boxes),
        ] {
            if value.is_some_and(|v| v > 100) {
                p.add(field, "must be at most 100");
            }
        }
        let bedrooms_halves = halves(&mut p, "bedrooms", self.bedrooms.as_ref());
        let bathrooms_halves = halves(&mut p, "bathrooms", self.bathrooms.as_ref());
        let currency = p.check(
            "currency",
            Currency::parse(self.currency.as_deref().unwrap_or(shared::domain::property::DEFAULT_CURRENCY)),
        );
        let base_rent = money(&mut p, "base_rent", self.base_rent.as_ref()).unwrap_or_default();
        let price_amortized = money(&mut p, "price_amortized", self.price_amortized.as_ref());
        let possession_start = self.possession_start.as_ref().and_then(|raw| p.date("possession_start", raw));
        let possession_end = self.possession_end.as_ref().and_then(|raw| p.date("possession_end", raw));
        if let (Some(start), Some(end)) = (possession_start, possession_end)
            && end < start
        {
            p.add("possession_end", "must not be before possession_start");
        }
        p.into_result()?;
        Ok(UnitFields {
            unit_number,
            building,
            floor: self.floor,
            floorplan,
            unit_type,
            dwelling_type,
            sqft: self.sqft,
            bedrooms_halves,
            bathrooms_halves,
            dens: self.dens,
            exposure,
            view,
            has_garage: self.has_garage.unwrap_or(false),
            pets: self.pets,
            parking_stalls: self.parking_stalls,
            storage_boxes: self.storage_boxes,
            currency: currency.ok_or_else(|| Problems::one("currency", "is invalid"))?,
            base_rent,
            price_amortized,
            when_available,
            assigned_lead,
            owner_id,
            possession_start,
            possession_end,
            active: self.active.unwrap_or(true),
        })
    }
}

impl From<&UnitFields> for UnitInput {
    fn from(f: &UnitFields) -> Self {
        Self {
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
            has_garage: Some(f.has_garage),
            pets: f.pets,
            parking_stalls: f.parking_stalls,
            storage_boxes: f.storage_boxes,
            currency: Some(f.currency.as_str().to_owned()),
            base_rent: Some(f.base_rent.to_seed_number()),
            price_amortized: f.price_amortized.map(Money::to_seed_number),
            when_available: f.when_available.clone(),
            assigned_lead: f.assigned_lead.as_ref().map(AssignedLeadInput::from),
            owner_id: f.owner_id.clone(),
            possession_start: f.possession_start.map(calendar::format_date),
            possession_end: f.possession_end.map(calendar::format_date),
            active: Some(f.active),
            status: None,
        }
    }
}

/// The body of `PATCH`: only the fields named change; `null` clears an optional field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitPatch {
    #[serde(default, alias = "unit_code")]
    #[schema(value_type = Option<String>)]
    pub unit_number: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub building: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i32>)]
    pub floor: Patch<i32>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub floorplan: Patch<String>,
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<String>)]
    pub unit_type: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub dwelling_type: Patch<String>,
    #[serde(default, alias = "size")]
    #[schema(value_type = Option<u32>)]
    pub sqft: Patch<u32>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub bedrooms: Patch<serde_json::Number>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub bathrooms: Patch<serde_json::Number>,
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub dens: Patch<u32>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub exposure: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub view: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub has_garage: Patch<bool>,
    #[serde(default, alias = "pets_allowed")]
    #[schema(value_type = Option<u32>)]
    pub pets: Patch<u32>,
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub parking_stalls: Patch<u32>,
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub storage_boxes: Patch<u32>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub currency: Patch<String>,
    #[serde(default, alias = "price")]
    #[schema(value_type = Option<f64>)]
    pub base_rent: Patch<serde_json::Number>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub price_amortized: Patch<serde_json::Number>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub when_available: Patch<String>,
    /// Replaces the assigned lead as a whole; `null` unassigns it.
    #[serde(default)]
    #[schema(value_type = Option<AssignedLeadInput>)]
    pub assigned_lead: Patch<AssignedLeadInput>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub possession_start: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub possession_end: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Patch<bool>,
}

impl UnitPatch {
    /// Applies the patch to the current fields and validates the result as a whole.
    pub fn apply(self, current: &UnitFields) -> Result<UnitFields, Problems> {
        let mut p = Problems::new();
        let mut i = UnitInput::from(current);
        overlay_required(&mut p, "unit_number", &mut i.unit_number, self.unit_number);
        overlay_optional(&mut i.building, self.building);
        overlay_optional(&mut i.floor, self.floor);
        overlay_optional(&mut i.floorplan, self.floorplan);
        overlay_optional(&mut i.unit_type, self.unit_type);
        overlay_optional(&mut i.dwelling_type, self.dwelling_type);
        overlay_optional(&mut i.sqft, self.sqft);
        overlay_optional(&mut i.bedrooms, self.bedrooms);
        overlay_optional(&mut i.bathrooms, self.bathrooms);
        overlay_optional(&mut i.dens, self.dens);
        overlay_optional(&mut i.exposure, self.exposure);
        overlay_optional(&mut i.view, self.view);
        overlay_optional(&mut i.has_garage, self.has_garage);
        overlay_optional(&mut i.pets, self.pets);
        overlay_optional(&mut i.parking_stalls, self.parking_stalls);
        overlay_optional(&mut i.storage_boxes, self.storage_boxes);
        overlay_optional(&mut i.currency, self.currency);
        overlay_optional(&mut i.base_rent, self.base_rent);
        overlay_optional(&mut i.price_amortized, self.price_amortized);
        overlay_optional(&mut i.when_available, self.when_available);
        overlay_optional(&mut i.assigned_lead, self.assigned_lead);
        overlay_optional(&mut i.owner_id, self.owner_id);
        overlay_optional(&mut i.possession_start, self.possession_start);
        overlay_optional(&mut i.possession_end, self.possession_end);
        overlay_optional(&mut i.active, self.active);
        p.into_result()?;
        i.validate()
    }
}

/// The body of `PUT .../status`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitStatusInput {
    /// The status name; or give `status_id` instead.
    #[serde(default)]
    pub status: Option<UnitStatus>,
    /// The rent-roll status id (1 to 6).
    #[serde(default)]
    pub status_id: Option<u8>,
    /// Free text such as "Immediate" or "December"; up to 50 characters.
    #[serde(default)]
    pub when_available: Option<String>,
}

impl UnitStatusInput {
    /// The status and `when_available` it sets.
    pub fn validate(&self) -> Result<(UnitStatus, Option<String>), Problems> {
        let mut p = Problems::new();
        let by_id = self.status_id.map(|id| {
            let status = UnitStatus::from_id(id);
            if status.is_none() {
                p.add("status_id", "must be a rent-roll status id from 1 to 6");
            }
            status
        });
        let status = match (self.status, by_id) {
            (Some(named), Some(Some(by_id))) if named != by_id => {
                p.add("status_id", "does not match status");
                None
            }
            (Some(named), _) => Some(named),
            (None, Some(by_id)) => by_id,
            (None, None) => {
                p.add("status", "is required (or status_id)");
                None
            }
        };
        let when_available = optional_text(&mut p, "when_available", self.when_available.as_ref(), 50);
        p.into_result()?;
        let status = status.ok_or_else(|| Problems::one("status", "is invalid"))?;
        Ok((status, when_available))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::http::body::parse;

    #[test]
    fn validation_reports_every_problem() {
        let input: UnitInput = parse(
            br#"{"unit_number":" ","bedrooms":1.25,"base_rent":-1,"possession_start":"2024-05-01","possession_end":"2024-01-01"}"#,
        )
        .unwrap()
        .value;
        let problems = input.validate().unwrap_err();
        let fields: Vec<_> = problems.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["unit_number", "bedrooms", "base_rent", "possession_end"]);
    }

    #[test]
    fn patch_clears_and_keeps() {
        let input: UnitInput =
            parse(br#"{"unit_number":"A101","bedrooms":1.5,"sqft":850,"building":"A"}"#).unwrap().value;
        let fields = input.validate().unwrap();
        assert_eq!(fields.bedrooms_halves, Some(3));
        let patch: UnitPatch = parse(br#"{"building":null,"sqft":900}"#).unwrap().value;
        let next = patch.apply(&fields).unwrap();
        assert_eq!(next.building, None);
        assert_eq!(next.sqft, Some(900));
        assert_eq!(next.bedrooms_halves, Some(3));
    }
}
