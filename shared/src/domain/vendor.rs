//! Vendors: the contractors work orders go to, their trades, insurance and ratings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::domain::calendar::iso_date_option;
use crate::domain::ids::VendorId;
use crate::domain::maintenance::Category;
use crate::time_format;

/// The client-writable fields of a vendor, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorFields {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The trades the vendor works in.
    pub trades: Vec<Category>,
    /// The last day the vendor's insurance covers; after it the vendor cannot be assigned.
    #[serde(default, with = "iso_date_option")]
    pub insurance_expires_on: Option<Date>,
}

/// A stored vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vendor {
    pub id: String,
    pub org_id: String,
    #[serde(flatten)]
    pub fields: VendorFields,
    /// One rating (1 to 5) per completed work order, by work order id.
    #[serde(default)]
    pub ratings: BTreeMap<String, u8>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

impl Vendor {
    pub fn new(org_id: &str, fields: VendorFields, now: OffsetDateTime) -> Self {
        Self {
            id: VendorId::generate().into(),
            org_id: org_id.to_owned(),
            fields,
            ratings: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The next version, changed by `change`.
    pub fn revised(&self, now: OffsetDateTime, change: impl FnOnce(&mut Self)) -> Self {
        let mut next = Self { updated_at: now, version: self.version + 1, ..self.clone() };
        change(&mut next);
        next
    }

    /// Whether the vendor's insurance covers `day` (a vendor without an expiry on record is
    /// taken as covered).
    pub fn insured_on(&self, day: Date) -> bool {
        self.fields.insurance_expires_on.is_none_or(|last| day <= last)
    }
}
