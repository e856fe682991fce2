//! A field of a PATCH body: absent, explicitly `null`, or a value.

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|v| v.map_or(Patch::Null, Patch::Value))
    }
}

/// Overlays a required field: a value replaces `target`; `null` is a problem for `field`.
pub fn overlay_required<T>(
    problems: &mut crate::domain::validation::Problems,
    field: &str,
    target: &mut T,
    patch: Patch<T>,
) {
    match patch {
        Patch::Absent => {}
        Patch::Null => problems.add(field, "must not be null"),
        Patch::Value(value) => *target = value,
    }
}

/// Overlays an optional field: a value replaces `target`; `null` clears it.
pub fn overlay_optional<T>(target: &mut Option<T>, patch: Patch<T>) {
    match patch {
        Patch::Absent => {}
        Patch::Null => *target = None,
        Patch::Value(value) => *target = Some(value),
    }
}
