//! Units: the rentable spaces of a property, with the union of the partner feed's and
//! the RentSync rent-roll guide's fields.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::domain::calendar::{iso_date, iso_date_option};
use crate::domain::ids::{PropertyId, UnitId};
use crate::domain::lease::LeaseTerms;
use crate::domain::money::{Currency, Money};
use crate::time_format;

/// The rent-roll status of a unit, with its RentSync `rentroll_status_id`.
///
/// | id | name | `is_available` |
/// |---|---|---|
/// | 1 | Available | true |
/// | 2 | Rented | false |
/// | 3 | Notice | true (the tenant gave notice; the unit can be leased from `when_available`) |
/// | 4 | Unavailable | false |
/// | 5 | Maintenance | false |
/// | 6 | Reserved | false |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub enum UnitStatus {
    #[default]
    Available,
    Rented,
    Notice,
    Unavailable,
    Maintenance,
    Reserved,
}

impl UnitStatus {
    pub const ALL: [UnitStatus; 6] = [
        UnitStatus::Available,
        UnitStatus::Rented,
        UnitStatus::Notice,
        UnitStatus::Unavailable,
        UnitStatus::Maintenance,
        UnitStatus::Reserved,
    ];

    /// The rent-roll status id (the RentSync guide's `rentroll_status_id`).
    pub fn id(self) -> u8 {
        match self {
            Self::Available => 1,
            Self::Rented => 2,
            Self::Notice => 3,
            Self::Unavailable => 4,
            Self::Maintenance => 5,
            Self::Reserved => 6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Rented => "Rented",
            Self::Notice => "Notice",
            Self::Unavailable => "Unavailable",
            Self::Maintenance => "Maintenance",
            Self::Reserved => "Reserved",
        }
    }

    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The RentSync guide: `is_available` is derived from the status.
    pub fn is_available(self) -> bool {
        matches!(self, Self::Available | Self::Notice)
    }
}

/// A period during which a lease holds the unit (`end` is the effective end: the
/// move-out date when the lease ended early). Bookings never overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub lease_id: String,
    #[serde(with = "iso_date")]
    pub start: Date,
    #[serde(with = "iso_date")]
    pub end: Date,
}

impl Booking {
    pub fn overlaps(&self, start: Date, end: Date) -> bool {
        self.start <= end && start <= self.end
    }
}

/// The most bookings a unit keeps: its current and future leases. Each lease write drops
/// the bookings that ended before its day, so the item stays far below DynamoDB's 400 KB
/// (a booking takes about 80 bytes).
pub const MAX_BOOKINGS: usize = 100;

/// Why a unit cannot be booked for a lease's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    /// The lease would start before the unit's possession start (carried).
    #[error("the lease starts before the unit's possession start")]
    BeforePossession(Date),
    /// Another lease holds the unit during part of the period.
    #[error("another lease holds the unit during the period")]
    Overlaps(Booking),
    /// The lease would start on or before the last day of the bookings already dropped
    /// (carried), which can no longer be checked for overlaps.
    #[error("the lease starts within the unit's settled lease history")]
    WithinSettled(Date),
    /// The unit already holds [`MAX_BOOKINGS`] current and future leases.
    #[error("the unit holds the most current and future leases it can")]
    Full,
}

/// A unit's bookings as a lease write leaves them: those that had not ended before the
/// write's day, by start, and the last day of any dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bookings {
    pub kept: Vec<Booking>,
    pub settled_until: Option<Date>,
}

impl Bookings {
    /// The last day any lease holds the unit, dropped bookings included.
    pub fn booked_until(&self) -> Option<Date> {
        self.kept.iter().map(|b| b.end).max().or(self.settled_until)
    }
}

/// A stored unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub id: String,
    pub org_id: String,
    pub property_id: String,
    #[serde(flatten)]
    pub fields: UnitFields,
    pub status: UnitStatus,
    /// Every lease's period on this unit; kept by the leases function.
    #[serde(default)]
    pub bookings: Vec<Booking>,
    /// The last day any lease holds the unit; a unit booked until today or later
    /// cannot be deleted.
    #[serde(default, with = "iso_date_option", skip_serializing_if = "Option::is_none")]
    pub booked_until: Option<Date>,
    /// The last day of the bookings dropped from `bookings` because they had ended; a new
    /// lease must start after it.
    #[serde(default, with = "iso_date_option", skip_serializing_if = "Option::is_none")]
    pub settled_until: Option<Date>,
    #[serde(with = "time_format::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time_format::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub version: u64,
}

/// The client-writable fields of a unit, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitFields {
    pub unit_number: String,
    pub building: Option<String>,
    pub floor: Option<i32>,
    pub floorplan: Option<String>,
    #[serde(rename = "type")]
    pub unit_type: Option<String>,
    pub dwelling_type: Option<String>,
    pub sqft: Option<u32>,
    /// In halves (`1.5` bedrooms is 3), so it stays an integer in storage.
    pub bedrooms_halves: Option<u32>,
    pub bathrooms_halves: Option<u32>,
    pub dens: Option<u32>,
    pub exposure: Option<String>,
    pub view: Option<String>,
    pub has_garage: bool,
    pub pets: Option<u32>,
    pub parking_stalls: Option<u32>,
    pub storage_boxes: Option<u32>,
    pub currency: Currency,
    pub base_rent: Money,
    pub price_amortized: Option<Money>,
    /// "Immediate", "December", ...
    #[serde(default)]
    pub when_available: Option<String>,
    /// The leasing agent the unit's enquiries go to.
    #[serde(default)]
    pub assigned_lead: Option<AssignedLead>,
    pub owner_id: Option<String>,
    #[serde(default, with = "iso_date_option")]
    pub possession_start: Option<Date>,
    #[serde(default, with = "iso_date_option")]
    pub possession_end: Option<Date>,
    pub active: bool,
}

/// The lead (leasing agent) assigned to a unit: the RentSync guide's `lead_assignment`.
/// `id` is the lead's id in the organization's leasing records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssignedLead {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
}

impl UnitFields {
    /// A listed (`active`) unit with a number, a currency and a base rent, and nothing else set.
    pub fn listed(unit_number: &str, currency: Currency, base_rent: Money) -> Self {
        Self {
            unit_number: unit_number.to_owned(),
            building: None,
            floor: None,
            floorplan: None,
            unit_type: None,
            dwelling_type: None,
            sqft: None,
            bedrooms_halves: None,
            bathrooms_halves: None,
            dens: None,
            exposure: None,
            view: None,
            has_garage: false,
            pets: None,
            parking_stalls: None,
            storage_boxes: None,
            currency,
            base_rent,
            price_amortized: None,
            when_available: None,
            assigned_lead: None,
            owner_id: None,
            possession_start: None,
            possession_end: None,
            active: true,
        }
    }
}

impl Unit {
    pub fn new(
        org_id: &str,
        property_id: &PropertyId,
        fields: UnitFields,
        status: UnitStatus,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: UnitId::generate().into(),
            org_id: org_id.to_owned(),
            property_id: property_id.to_string(),
            fields,
            status,
            bookings: Vec::new(),
            booked_until: None,
            settled_until: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The next version with new fields.
    pub fn revised(&self, fields: UnitFields, now: OffsetDateTime) -> Self {
        Self { fields, updated_at: now, version: self.version + 1, ..self.clone() }
    }

    /// Whether a lease holds the unit today or later.
    pub fn has_current_or_future_lease(&self, today: Date) -> bool {
        self.booked_until.is_some_and(|until| until >= today)
    }

    /// Books the unit for `terms` as lease `lease_id`: the period must not start before
    /// the unit's possession start, nor within its settled history, nor overlap another
    /// lease's booking.
    pub fn book(&self, terms: &LeaseTerms, lease_id: &str) -> Result<Booking, BookingError> {
        if let Some(possession) = self.fields.possession_start
            && terms.start_date < possession
        {
            return Err(BookingError::BeforePossession(possession));
        }
        if let Some(settled) = self.settled_until
            && terms.start_date <= settled
        {
            return Err(BookingError::WithinSettled(settled));
        }
        if let Some(clash) = self.bookings.iter().find(|b| b.overlaps(terms.start_date, terms.end_date)) {
            return Err(BookingError::Overlaps(clash.clone()));
        }
        Ok(Booking { lease_id: lease_id.to_owned(), start: terms.start_date, end: terms.end_date })
    }

    /// The bookings after adding `booking` on `today`, or [`BookingError::Full`].
    pub fn bookings_with(&self, booking: Booking, today: Date) -> Result<Bookings, BookingError> {
        let mut all = self.bookings.clone();
        all.push(booking);
        let next = self.settled(all, today);
        if next.kept.len() > MAX_BOOKINGS {
            return Err(BookingError::Full);
        }
        Ok(next)
    }

    /// The bookings after lease `lease_id` ended early on `end`, written on `today`.
    pub fn bookings_ending(&self, lease_id: &str, end: Date, today: Date) -> Bookings {
        let all = self
            .bookings
            .iter()
            .map(|b| if b.lease_id == lease_id { Booking { end, ..b.clone() } } else { b.clone() })
            .collect();
        self.settled(all, today)
    }

    /// Drops the bookings that ended before `today`, remembering the last day they held.
    fn settled(&self, all: Vec<Booking>, today: Date) -> Bookings {
        let (mut kept, ended): (Vec<Booking>, Vec<Booking>) = all.into_iter().partition(|b| b.end >= today);
        kept.sort_by_key(|b| b.start);
        let settled_until = ended.iter().map(|b| b.end).chain(self.settled_until).max();
        Bookings { kept, settled_until }
    }

    /// The booking that holds the unit on `day`, if any.
    pub fn booking_on(&self, day: Date) -> Option<&Booking> {
        self.bookings.iter().find(|b| b.start <= day && day <= b.end)
    }
}

/// Halves as a JSON number: `2` or `1.5`.
pub fn halves_number(halves: u32) -> serde_json::Number {
    if halves.is_multiple_of(2) {
        serde_json::Number::from(halves / 2)
    } else {
        serde_json::Number::from_f64(f64::from(halves) / 2.0).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar;

    #[test]
    fn status_ids_and_availability() {
        for status in UnitStatus::ALL {
            assert_eq!(UnitStatus::from_id(status.id()), Some(status));
        }
        assert!(UnitStatus::Available.is_available());
        assert!(!UnitStatus::Rented.is_available());
        assert_eq!(UnitStatus::from_id(0), None);
    }

    #[test]
    fn halves_are_json_numbers() {
        assert_eq!(halves_number(3).to_string(), "1.5");
        assert_eq!(halves_number(4).to_string(), "2");
    }

    fn terms(start: &str, end: &str) -> LeaseTerms {
        let day = |d: &str| calendar::parse_date(d).unwrap();
        LeaseTerms {
            unit_id: "unit_x".into(),
            start_date: day(start),
            end_date: day(end),
            move_in: None,
            currency: Currency::parse("USD").unwrap(),
            rent_amount: Money(100_000),
            due_day: 1,
            deposit: Money(0),
            co_tenant_ids: Vec::new(),
        }
    }

    fn unit_with(possession_start: Option<&str>, bookings: &[(&str, &str, &str)]) -> Unit {
        let mut fields = UnitFields::listed("A1", Currency::parse("USD").unwrap(), Money(100_000));
        fields.possession_start = possession_start.map(|d| calendar::parse_date(d).unwrap());
        let mut unit = Unit::new("org_x", &PropertyId::generate(), fields, UnitStatus::Available, time_format::now());
        unit.bookings = bookings
            .iter()
            .map(|(lease_id, start, end)| Booking {
                lease_id: (*lease_id).into(),
                start: calendar::parse_date(start).unwrap(),
                end: calendar::parse_date(end).unwrap(),
            })
            .collect();
        unit
    }

    #[test]
    fn booking_a_free_period_returns_the_booking() {
        let unit = unit_with(Some("2030-01-01"), &[("lease_a", "2030-01-01", "2030-06-30")]);
        let booking = unit.book(&terms("2030-07-01", "2030-12-31"), "lease_b").unwrap();
        assert_eq!(booking.lease_id, "lease_b");
        assert_eq!(calendar::format_date(booking.start), "2030-07-01");
        assert_eq!(calendar::format_date(booking.end), "2030-12-31");
    }

    #[test]
    fn booking_an_overlapping_period_names_the_clash() {
        let unit = unit_with(None, &[("lease_a", "2030-01-01", "2030-06-30")]);
        for (start, end) in [("2030-06-30", "2030-12-31"), ("2029-12-01", "2030-01-01"), ("2030-02-01", "2030-03-01")] {
            let Err(BookingError::Overlaps(clash)) = unit.book(&terms(start, end), "lease_b") else {
                panic!("{start}..{end} overlaps lease_a");
            };
            assert_eq!(clash.lease_id, "lease_a");
        }
    }

    #[test]
    fn booking_before_possession_is_refused() {
        let unit = unit_with(Some("2030-03-01"), &[]);
        let refused = unit.book(&terms("2030-02-28", "2030-12-31"), "lease_b");
        assert_eq!(refused, Err(BookingError::BeforePossession(calendar::parse_date("2030-03-01").unwrap())));
        assert!(unit.book(&terms("2030-03-01", "2030-12-31"), "lease_b").is_ok());
    }

    #[test]
    fn unbounded_bookings_are_settled_and_capped() {
        let day = |d: &str| calendar::parse_date(d).unwrap();
        let unit = unit_with(None, &[("lease_a", "2030-01-01", "2030-01-31"), ("lease_b", "2030-03-01", "2030-03-31")]);
        // Bookings that ended before the write's day are dropped; their last day is kept.
        let booking = unit.book(&terms("2030-04-01", "2030-04-30"), "lease_c").unwrap();
        let next = unit.bookings_with(booking, day("2030-03-15")).unwrap();
        assert_eq!(next.kept.iter().map(|b| b.lease_id.as_str()).collect::<Vec<_>>(), ["lease_b", "lease_c"]);
        assert_eq!(next.settled_until, Some(day("2030-01-31")));
        assert_eq!(next.booked_until(), Some(day("2030-04-30")));

        // A lease starting within the settled history can no longer be checked, so it is refused.
        let mut settled = unit.clone();
        settled.bookings = next.kept;
        settled.settled_until = next.settled_until;
        assert_eq!(
            settled.book(&terms("2030-01-31", "2030-02-10"), "lease_d"),
            Err(BookingError::WithinSettled(day("2030-01-31")))
        );
        assert!(settled.book(&terms("2030-02-01", "2030-02-10"), "lease_d").is_ok());

        // At most MAX_BOOKINGS current and future leases.
        let mut full = unit_with(None, &[]);
        full.bookings = (0..MAX_BOOKINGS)
            .map(|i| {
                let start = day("2031-01-01") + time::Duration::days(i64::try_from(i).unwrap());
                Booking { lease_id: format!("lease_{i}"), start, end: start }
            })
            .collect();
        let one_more = Booking { lease_id: "lease_x".into(), start: day("2040-01-01"), end: day("2040-01-01") };
        assert_eq!(full.bookings_with(one_more, day("2030-01-01")), Err(BookingError::Full));
    }
}
