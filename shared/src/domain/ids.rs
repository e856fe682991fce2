//! Opaque ids: a type prefix plus a ULID (`prop_01JD...`), so they sort by creation.
//! Each kind of id is its own type, and `parse` is the only way from text to an id:
//! a value that is not `<prefix>_<ULID>` never reaches a key.

use std::fmt;

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

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident = $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id.
            pub fn generate() -> Self {
                Self(new(Self::PREFIX))
            }

            /// The id `raw` spells, if it is one of this kind.
            pub fn parse(raw: &str) -> Option<Self> {
                is_valid(raw, Self::PREFIX).then(|| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

prefixed_id!(
    /// The id of a property.
    PropertyId = "prop"
);
prefixed_id!(
    /// The id of a unit.
    UnitId = "unit"
);
prefixed_id!(
    /// The id of a tenant.
    TenantId = "ten"
);
prefixed_id!(
    /// The id of a lease.
    LeaseId = "lease"
);
prefixed_id!(
    /// The id of a tenant screening.
    ScreeningId = "scr"
);
prefixed_id!(
    /// The id of a maintenance request.
    MaintenanceRequestId = "mr"
);
prefixed_id!(
    /// The id of a work order.
    WorkOrderId = "wo"
);
prefixed_id!(
    /// The id of a vendor.
    VendorId = "ven"
);
prefixed_id!(
    /// The id of an invoice.
    InvoiceId = "inv"
);
prefixed_id!(
    /// The id of a payment.
    PaymentId = "pay"
);
prefixed_id!(
    /// The id of a refund of a payment.
    RefundId = "rfd"
);
prefixed_id!(
    /// The id of a ledger entry.
    LedgerEntryId = "le"
);
prefixed_id!(
    /// The id of a rent run (the daily rent job, scheduled or asked for).
    RentRunId = "rrun"
);
prefixed_id!(
    /// The id of a saved payment method.
    PaymentMethodId = "pm"
);

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
    fn only_an_id_of_its_kind_parses() {
        let id = PropertyId::generate();
        assert_eq!(PropertyId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(UnitId::parse(id.as_str()), None);
        assert_eq!(TenantId::parse("ten_nope"), None);
        assert_eq!(LeaseId::parse("lease_01JD0000000000000000000000/../x"), None);
        assert!(TenantId::parse("ten_01JD3M00000000000000000001").is_some());
    }

    #[test]
    fn lower_bound_orders_by_time() {
        let earlier = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let later = earlier + time::Duration::milliseconds(1);
        assert!(lower_bound("prop", earlier) < lower_bound("prop", later));
        assert!(lower_bound("prop", earlier) <= new("prop"));
    }
}
