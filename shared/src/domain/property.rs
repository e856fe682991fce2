//! Properties: the buildings or sites an organization manages.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::money::{Currency, Money};
use crate::time_format;

/// Used when a property is created without a currency.
pub const DEFAULT_CURRENCY: &str = "USD";

/// The most days, from today on, on which a property's occupancy may change: about ten
/// years of daily changes, and about 100 KB of the item. Changes before today are folded
/// into `occupied_unit_count` by every lease write, so only these stay in the map.
pub const MAX_OCCUPANCY_DAYS: usize = 3650;

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
    /// it ends), so occupancy on any day is known without a write on that day. Each lease
    /// write folds the days before its own into `occupied_unit_count`, so occupancy is
    /// known from the last write on, and at most [`MAX_OCCUPANCY_DAYS`] days remain.
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
            id: crate::domain::ids::PropertyId::generate().into(),
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

    /// The occupancy changes dated before `today`, which a lease write folds into
    /// `occupied_unit_count`.
    pub fn settled_occupancy(&self, today: time::Date) -> Vec<(String, i64)> {
        let cut = crate::domain::calendar::format_date(today);
        self.occupancy.range(..cut).map(|(day, delta)| (day.clone(), *delta)).collect()
    }

    /// Whether changes on `days` keep the days from `today` on within [`MAX_OCCUPANCY_DAYS`].
    pub fn occupancy_has_room(&self, days: impl IntoIterator<Item = time::Date>, today: time::Date) -> bool {
        let cut = crate::domain::calendar::format_date(today);
        let mut future: std::collections::BTreeSet<&str> =
            self.occupancy.range(cut.clone()..).map(|(day, _)| day.as_str()).collect();
        let added: Vec<String> =
            days.into_iter().filter(|d| *d >= today).map(crate::domain::calendar::format_date).collect();
        future.extend(added.iter().map(String::as_str));
        future.len() <= MAX_OCCUPANCY_DAYS
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

#[cfg(test)]
mod tests {
    use super::*;

    fn property() -> Property {
        let fields = PropertyFields {
            name: "Sunset Apartments".into(),
            property_type: PropertyType::Residential,
            status: PropertyStatus::Active,
            address: Address {
                street: "123 Main St".into(),
                city: "Vancouver".into(),
                state: "BC".into(),
                postal_code: "V6B 1A1".into(),
                country: None,
            },
            currency: Currency::parse(DEFAULT_CURRENCY).unwrap(),
            total_value: Money::default(),
        };
        Property::new("org_x", fields, time_format::now())
    }

    #[test]
    fn occupancy_rate_is_a_rounded_percentage() {
        let mut property = property();
        assert_eq!(property.occupancy_rate(), 0.0);
        property.unit_count = 3;
        property.occupied_unit_count = 2;
        assert_eq!(property.occupancy_rate(), 66.7);
    }

    #[test]
    fn occupancy_follows_the_day_ledger_without_writes() {
        let mut property = property();
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

    #[test]
    fn unbounded_occupancy_days_are_settled_and_capped() {
        let day = |d: &str| crate::domain::calendar::parse_date(d).unwrap();
        let mut property = property();
        property.occupancy.insert("2030-01-01".into(), 1);
        property.occupancy.insert("2030-02-01".into(), -1);
        property.occupancy.insert("2030-03-01".into(), 2);
        assert_eq!(
            property.settled_occupancy(day("2030-03-01")),
            [("2030-01-01".into(), 1), ("2030-02-01".into(), -1)]
        );

        property.occupancy = (0..MAX_OCCUPANCY_DAYS)
            .map(|i| (crate::domain::calendar::format_date(day("2031-01-01") + time::Duration::days(i as i64)), 1))
            .collect();
        let today = day("2030-01-01");
        assert!(property.occupancy_has_room([day("2031-01-01"), day("2020-01-01")], today));
        assert!(!property.occupancy_has_room([day("2099-01-01")], today));
    }
}
