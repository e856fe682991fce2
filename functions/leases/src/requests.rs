//! The bodies the lease routes accept, and how each becomes a lease's validated terms.

use serde::Deserialize;
use shared::domain::Problems;
use shared::domain::ids::TenantId;
use shared::domain::lease::{Lease, LeaseTerms, MAX_TENANTS};
use shared::domain::money::{Currency, Money};
use shared::time_format;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// The body of `POST /api/v1/properties/{property_id}/tenants/{tenant_id}/lease`. The
/// tenant in the path is the primary tenant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseInput {
    /// A unit of the same property.
    pub unit_id: String,
    /// `YYYY-MM-DD`, not before the unit's `possession_start`.
    pub start_date: String,
    /// `YYYY-MM-DD`, the last day of the lease (inclusive).
    pub end_date: String,
    /// RFC 3339 timestamp of the move-in.
    #[serde(default)]
    pub move_in: Option<String>,
    /// Monthly rent, two decimals at most.
    #[schema(value_type = f64)]
    pub rent_amount: serde_json::Number,
    /// ISO 4217; defaults to `USD`.
    #[serde(default)]
    pub currency: Option<String>,
    /// 1 to 28; defaults to 1.
    #[serde(default)]
    pub due_day: Option<u8>,
    /// Defaults to 0.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub deposit: Option<serde_json::Number>,
    /// Other tenants of the same property on the lease (up to 9).
    #[serde(default)]
    pub co_tenant_ids: Vec<String>,
}

fn timestamp(p: &mut Problems, field: &str, raw: Option<&str>) -> Option<OffsetDateTime> {
    let raw = raw?;
    let parsed = time_format::parse(raw);
    if parsed.is_none() {
        p.add(field, "must be an RFC 3339 timestamp such as 2024-01-01T10:00:00Z");
    }
    parsed
}

impl LeaseInput {
    pub fn validate(&self, primary_tenant_id: &str) -> Result<LeaseTerms, Problems> {
        let mut p = Problems::new();
        let start = p.date("start_date", &self.start_date);
        let end = p.date("end_date", &self.end_date);
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            p.add("end_date", "must not be before start_date");
        }
        let move_in = timestamp(&mut p, "move_in", self.move_in.as_deref());
        let currency = p.check(
            "currency",
            Currency::parse(self.currency.as_deref().unwrap_or(shared::domain::property::DEFAULT_CURRENCY)),
        );
        let rent_amount = p.check("rent_amount", Money::parse_non_negative(&self.rent_amount));
        let deposit = match &self.deposit {
            Some(d) => p.check("deposit", Money::parse_non_negative(d)),
            None => Some(Money::default()),
        };
        let due_day = self.due_day.unwrap_or(1);
        if !(1..=28).contains(&due_day) {
            p.add("due_day", "must be between 1 and 28");
        }
        let mut co_tenant_ids = Vec::new();
        for id in &self.co_tenant_ids {
            if TenantId::parse(id).is_none() {
                p.add("co_tenant_ids", format!("{id:.40} is not a tenant id"));
            } else if id == primary_tenant_id || co_tenant_ids.contains(id) {
                p.add("co_tenant_ids", "must not repeat a tenant");
            } else {
                co_tenant_ids.push(id.clone());
            }
        }
        if co_tenant_ids.len() + 1 > MAX_TENANTS {
            p.add("co_tenant_ids", format!("a lease names at most {MAX_TENANTS} tenants"));
        }
        p.into_result()?;
        let invalid = || Problems::one("lease", "is invalid");
        Ok(LeaseTerms {
            unit_id: self.unit_id.clone(),
            start_date: start.ok_or_else(invalid)?,
            end_date: end.ok_or_else(invalid)?,
            move_in,
            currency: currency.ok_or_else(invalid)?,
            rent_amount: rent_amount.ok_or_else(invalid)?,
            due_day,
            deposit: deposit.ok_or_else(invalid)?,
            co_tenant_ids,
        })
    }
}

/// The body of `POST /api/v1/leases/{lease_id}/move-out`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveOutInput {
    /// RFC 3339 timestamp; its UTC day becomes the lease's last day. Between the
    /// start date and the end date.
    pub move_out: String,
}

impl MoveOutInput {
    pub fn validate(&self, lease: &Lease) -> Result<OffsetDateTime, Problems> {
        let mut p = Problems::new();
        let at = timestamp(&mut p, "move_out", Some(&self.move_out));
        if let Some(at) = at {
            // `time_format::parse` answers in UTC.
            let day = at.date();
            if day < lease.start_date || day > lease.end_date {
                p.add("move_out", "must fall between the lease's start_date and end_date");
            }
        }
        p.into_result()?;
        at.ok_or_else(|| Problems::one("move_out", "is invalid"))
    }
}

/// The body of `POST /api/v1/leases/{lease_id}/renew`: a new lease for the same unit
/// and tenants, starting the day after this one ends.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewInput {
    /// `YYYY-MM-DD`, the last day of the renewal.
    pub end_date: String,
    /// Defaults to the current rent.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub rent_amount: Option<serde_json::Number>,
}

impl RenewInput {
    /// The renewal's terms, following `lease`.
    pub fn validate(&self, lease: &Lease) -> Result<LeaseTerms, Problems> {
        let mut p = Problems::new();
        let start = lease.effective_end.next_day();
        if start.is_none() || lease.move_out.is_some() {
            p.add("lease", "a lease that ended early cannot be renewed");
        }
        let end = p.date("end_date", &self.end_date);
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            p.add("end_date", "must be after the current lease's end_date");
        }
        let rent_amount = match &self.rent_amount {
            Some(r) => p.check("rent_amount", Money::parse_non_negative(r)),
            None => Some(lease.rent_amount),
        };
        p.into_result()?;
        let invalid = || Problems::one("lease", "is invalid");
        Ok(LeaseTerms {
            unit_id: lease.unit_id.clone(),
            start_date: start.ok_or_else(invalid)?,
            end_date: end.ok_or_else(invalid)?,
            move_in: None,
            currency: lease.currency.clone(),
            rent_amount: rent_amount.ok_or_else(invalid)?,
            due_day: lease.due_day,
            deposit: lease.deposit,
            co_tenant_ids: lease.tenant_ids.iter().skip(1).cloned().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_before_start_is_rejected() {
        let input = LeaseInput {
            unit_id: "unit_x".into(),
            start_date: "2024-05-01".into(),
            end_date: "2024-04-30".into(),
            move_in: Some("yesterday".into()),
            rent_amount: serde_json::Number::from(-1),
            currency: None,
            due_day: Some(31),
            deposit: None,
            co_tenant_ids: vec!["ten_x".into()],
        };
        let problems = input.validate("ten_x").unwrap_err();
        let fields: Vec<_> = problems.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["end_date", "move_in", "rent_amount", "due_day", "co_tenant_ids"]);
    }
}
