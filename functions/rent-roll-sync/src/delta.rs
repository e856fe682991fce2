//! What a delivery sends of one property: every listed unit (snapshot), or only the
//! units changed since RentSync last accepted them and the units to take down (delta).
//! Pure functions over the property's units and its sent units.

use std::collections::{BTreeMap, BTreeSet};

use shared::domain::Property;
use shared::domain::unit::Unit;
use shared::store::rent_roll::{SentChange, SentUnit, SyncMode};

use crate::payload::{RemovedUnit, unit_hash};

/// One entry of a property's roll, with what RentSync holds of it once delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Unit(Box<Unit>, SentUnit),
    Removed(RemovedUnit),
}

impl Entry {
    /// The change to the sent units when a delivery carrying this entry succeeds.
    pub fn change(&self) -> SentChange {
        match self {
            Self::Unit(_, sent) => SentChange::Sent(sent.clone()),
            Self::Removed(removed) => {
                SentChange::Removed { property_id: removed.property_id.clone(), unit_id: removed.unit_id.clone() }
            }
        }
    }
}

/// A property and what to send of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyRoll {
    pub property: Property,
    pub entries: Vec<Entry>,
    pub delta: bool,
}

impl PropertyRoll {
    /// Whether a delivery of this property would tell RentSync nothing new: a delta with
    /// no change. A snapshot is always sent, even of a property without listed units.
    pub fn is_empty_delta(&self) -> bool {
        self.delta && self.entries.is_empty()
    }
}

/// The roll of `property`, whose listed units are `listed`, given what RentSync last
/// accepted of it (`sent`). In delta mode, unchanged units are left out, and units RentSync
/// holds that are no longer listed (deleted, deactivated) become removals.
pub fn roll(mode: SyncMode, property: &Property, listed: Vec<Unit>, sent: &[SentUnit]) -> PropertyRoll {
    let delta = mode == SyncMode::Delta;
    let held: BTreeMap<&str, &SentUnit> = sent.iter().map(|s| (s.unit_id.as_str(), s)).collect();
    let listed_ids: BTreeSet<String> = listed.iter().map(|u| u.id.clone()).collect();
    let mut entries = Vec::with_capacity(listed.len());
    for unit in listed {
        let hash = unit_hash(property, &unit);
        if delta && held.get(unit.id.as_str()).is_some_and(|h| h.hash == hash) {
            continue;
        }
        let sent = SentUnit {
            property_id: property.id.clone(),
            unit_id: unit.id.clone(),
            unit_code: unit.fields.unit_number.clone(),
            hash,
        };
        entries.push(Entry::Unit(Box::new(unit), sent));
    }
    if delta {
        entries.extend(sent.iter().filter(|s| !listed_ids.contains(&s.unit_id)).map(|s| {
            Entry::Removed(RemovedUnit {
                property_id: property.id.clone(),
                unit_id: s.unit_id.clone(),
                unit_code: s.unit_code.clone(),
            })
        }));
    }
    PropertyRoll { property: property.clone(), entries, delta }
}

#[cfg(test)]
pub(crate) mod tests {
    use shared::domain::money::{Currency, Money};
    use shared::domain::property::{Address, PropertyFields, PropertyStatus, PropertyType};
    use shared::domain::unit::{UnitFields, UnitStatus};
    use time::macros::datetime;

    use super::*;

    pub(crate) fn property(id: &str) -> Property {
        let fields = PropertyFields {
            name: format!("Property {id}"),
            property_type: PropertyType::Residential,
            status: PropertyStatus::Active,
            address: Address {
                street: "1 Main St".into(),
                city: "Calgary".into(),
                state: "AB".into(),
                postal_code: "T2P 1J9".into(),
                country: None,
            },
            currency: Currency::parse("CAD").unwrap(),
            total_value: Money(0),
        };
        let mut property = Property::new("org_1", fields, datetime!(2025-01-01 0:00 UTC));
        property.id = id.into();
        property
    }

    pub(crate) fn unit(property_id: &str, id: &str, rent: i64) -> Unit {
        let mut fields =
            UnitFields::listed(id.trim_start_matches("unit_"), Currency::parse("CAD").unwrap(), Money(rent));
        fields.bedrooms_halves = Some(2);
        fields.bathrooms_halves = Some(2);
        let mut unit = Unit::new(
            "org_1",
            &shared::domain::ids::PropertyId::generate(),
            fields,
            UnitStatus::Available,
            datetime!(2025-01-01 0:00 UTC),
        );
        unit.id = id.into();
        unit.property_id = property_id.into();
        unit
    }

    fn sent_of(roll: &PropertyRoll) -> Vec<SentUnit> {
        roll.entries
            .iter()
            .filter_map(|e| match e.change() {
                SentChange::Sent(sent) => Some(sent),
                SentChange::Removed { .. } => None,
            })
            .collect()
    }

    fn ids(roll: &PropertyRoll) -> Vec<(&str, bool)> {
        roll.entries
            .iter()
            .map(|e| match e {
                Entry::Unit(unit, _) => (unit.id.as_str(), false),
                Entry::Removed(removed) => (removed.unit_id.as_str(), true),
            })
            .collect()
    }

    #[test]
    fn a_snapshot_sends_every_listed_unit_and_no_removals() {
        let p = property("prop_1");
        let first =
            roll(SyncMode::Snapshot, &p, vec![unit("prop_1", "unit_1", 100), unit("prop_1", "unit_2", 200)], &[]);
        let sent = sent_of(&first);
        let again = roll(SyncMode::Snapshot, &p, vec![unit("prop_1", "unit_1", 100)], &sent);
        assert_eq!(ids(&again), [("unit_1", false)]);
        assert!(!again.is_empty_delta());
    }

    #[test]
    fn a_delta_sends_changed_units_and_removals_only() {
        let p = property("prop_1");
        let first = roll(
            SyncMode::Delta,
            &p,
            vec![unit("prop_1", "unit_1", 100), unit("prop_1", "unit_2", 200), unit("prop_1", "unit_3", 300)],
            &[],
        );
        assert_eq!(ids(&first).len(), 3, "nothing was sent before: everything is new");
        let sent = sent_of(&first);
        // unit_1 unchanged, unit_2 repriced, unit_3 gone, unit_4 new.
        let next = roll(
            SyncMode::Delta,
            &p,
            vec![unit("prop_1", "unit_1", 100), unit("prop_1", "unit_2", 250), unit("prop_1", "unit_4", 400)],
            &sent,
        );
        assert_eq!(ids(&next), [("unit_2", false), ("unit_4", false), ("unit_3", true)]);
        let Entry::Removed(removed) = &next.entries[2] else { panic!("a removal") };
        assert_eq!(removed.unit_code, "3");
        let unchanged = roll(SyncMode::Delta, &p, vec![unit("prop_1", "unit_1", 100)], &sent[..1]);
        assert!(unchanged.is_empty_delta());
    }
}
