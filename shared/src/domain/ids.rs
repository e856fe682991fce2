//! Opaque ids: a type prefix plus a ULID (`prop_01JD...`), so they sort by creation.

use ulid::Ulid;

/// A new id with the given prefix.
pub fn new(prefix: &str) -> String {
    format!("{prefix}_{}", Ulid::generate())
}

/// The smallest id of this type created at or after `at` (for time-range key conditions).
pub fn lower_bound(prefix: &str, at: time::OffsetDateTime) -> String {
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    format!("{prefix}_{}", Ulid::from_parts(millis, 0))
}

/// Whether `id` is `<prefix>_<ULID>`.
pub fn is_valid(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('_')).is_some_and(|ulid| Ulid::from_string(ulid).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_ulids() {
        let id = new("prop");
        assert!(is_valid(&id, "prop"));
        assert!(!is_valid(&id, "unit"));
        assert!(!is_valid("prop_nope", "prop"));
        assert!(!is_valid("prop_01JD0000000000000000000000/../x", "prop"));
    }

    #[test]
    fn lower_bound_orders_by_time() {
        let earlier = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let later = earlier + time::Duration::milliseconds(1);
        assert!(lower_bound("prop", earlier) < lower_bound("prop", later));
        assert!(lower_bound("prop", earlier) <= new("prop"));
    }
}
