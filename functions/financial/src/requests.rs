//! The bodies the financial routes accept, and how each becomes validated terms.

use serde::Deserialize;
use shared::domain::Problems;
use shared::domain::calendar;
use shared::domain::ids::{InvoiceId, LeaseId};
use shared::domain::invoice::InvoiceStatus;
use shared::domain::late_fee::{LateFee, LateFeeType, MAX_BASIS_POINTS, MAX_GRACE_DAYS};
use shared::domain::ledger::{ChargeCategory, MAX_LINE_ITEMS};
use shared::domain::money::{Currency, Money};
use shared::domain::payment::PaymentMethod;
use shared::domain::payment_method::{MethodKind, Processor};
use time::Date;
use utoipa::ToSchema;

/// One line of `POST /api/v1/financial/invoices`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemInput {
    /// 1 to 200 characters.
    pub description: String,
    pub category: ChargeCategory,
    /// More than 0, two decimals at most, in the lease's currency.
    #[schema(value_type = f64, example = 2400.00)]
    pub amount: serde_json::Number,
}

/// The body of `POST /api/v1/financial/invoices`. The invoice is issued (`open`) at
/// once: its lines are charged to the lease's ledger.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceInput {
    pub lease_id: String,
    /// 1 to 20 lines.
    pub line_items: Vec<LineItemInput>,
    /// `YYYY-MM-DD`; defaults to today (UTC).
    #[serde(default)]
    pub issue_date: Option<String>,
    /// `YYYY-MM-DD`, not before the issue date.
    pub due_date: String,
    /// ISO 4217; when given, must be the lease's currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// Up to 1000 characters.
    #[serde(default)]
    pub notes: Option<String>,
    /// `open` (the default) issues it at once; `draft` keeps it off the ledger until
    /// `POST /api/v1/financial/invoices/{invoice_id}/send`.
    #[serde(default)]
    pub status: Option<InvoiceStatus>,
}

/// The body of `PUT /api/v1/financial/invoices/{invoice_id}`: the invoice's lines, dates
/// and notes, replaced. Other fields (`lease_id`, `status`, `id`, ...) are a 422.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceChangeInput {
    /// 1 to 20 lines.
    pub line_items: Vec<LineItemInput>,
    /// `YYYY-MM-DD`; defaults to the invoice's issue date.
    #[serde(default)]
    pub issue_date: Option<String>,
    /// `YYYY-MM-DD`, not before the issue date.
    pub due_date: String,
    /// Up to 1000 characters; left out, the invoice has none.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Validated lines, dates and notes of an invoice.
#[derive(Debug, Clone)]
pub struct InvoiceContent {
    pub lines: Vec<Line>,
    pub issue_date: Date,
    pub due_date: Date,
    pub notes: Option<String>,
}

/// A validated line.
#[derive(Debug, Clone)]
pub struct Line {
    pub description: String,
    pub category: ChargeCategory,
    pub amount: Money,
}

/// A validated invoice request.
#[derive(Debug, Clone)]
pub struct InvoiceTerms {
    pub lease_id: LeaseId,
    pub content: InvoiceContent,
    pub currency: Option<Currency>,
    /// Kept off the ledger until sent.
    pub draft: bool,
}

/// A positive amount with at most two decimals.
fn positive_amount(p: &mut Problems, field: &str, raw: &serde_json::Number) -> Option<Money> {
    let amount = p.check(field, Money::parse_non_negative(raw))?;
    if amount.0 == 0 {
        p.add(field, "must be greater than 0");
        return None;
    }
    Some(amount)
}

fn currency(p: &mut Problems, raw: Option<&str>) -> Option<Currency> {
    raw.and_then(|raw| p.check("currency", Currency::parse(raw)))
}

fn lease_id(p: &mut Problems, raw: &str) -> Option<LeaseId> {
    let id = LeaseId::parse(raw);
    if id.is_none() {
        p.add("lease_id", "must be a lease id");
    }
    id
}

/// The lines, dates and notes of an invoice body; `None` after a problem is added.
fn content(
    p: &mut Problems,
    line_items: &[LineItemInput],
    issue_date: Option<&str>,
    default_issue: Date,
    due_date: &str,
    notes: Option<&str>,
) -> Option<InvoiceContent> {
    if line_items.is_empty() || line_items.len() > MAX_LINE_ITEMS {
        p.add("line_items", format!("must have 1 to {MAX_LINE_ITEMS} lines"));
    }
    let mut lines = Vec::new();
    for (i, line) in line_items.iter().take(MAX_LINE_ITEMS).enumerate() {
        let description = p.text(&format!("line_items[{i}].description"), &line.description, 1, 200);
        if let Some(amount) = positive_amount(p, &format!("line_items[{i}].amount"), &line.amount) {
            lines.push(Line { description, category: line.category, amount });
        }
    }
    let issue_date = match issue_date {
        Some(raw) => p.date("issue_date", raw),
        None => Some(default_issue),
    };
    let due_date = p.date("due_date", due_date);
    if let (Some(issue), Some(due)) = (issue_date, due_date)
        && due < issue
    {
        p.add("due_date", "must not be before issue_date");
    }
    let notes = notes.map(|n| p.text("notes", n, 0, 1000)).filter(|n| !n.is_empty());
    Some(InvoiceContent { lines, issue_date: issue_date?, due_date: due_date?, notes })
}

impl InvoiceInput {
    pub fn validate(&self) -> Result<InvoiceTerms, Problems> {
        let mut p = Problems::new();
        let lease_id = lease_id(&mut p, &self.lease_id);
        let content = content(
            &mut p,
            &self.line_items,
            self.issue_date.as_deref(),
            calendar::today(),
            &self.due_date,
            self.notes.as_deref(),
        );
        let currency = currency(&mut p, self.currency.as_deref());
        let draft = match self.status {
            None | Some(InvoiceStatus::Open) => false,
            Some(InvoiceStatus::Draft) => true,
            Some(_) => {
                p.add("status", "must be draft or open");
                false
            }
        };
        p.into_result()?;
        let invalid = || Problems::one("invoice", "is invalid");
        Ok(InvoiceTerms {
            lease_id: lease_id.ok_or_else(invalid)?,
            content: content.ok_or_else(invalid)?,
            currency,
            draft,
        })
    }
}

impl InvoiceChangeInput {
    /// The new content of an invoice issued on `issued_on`.
    pub fn validate(&self, issued_on: Date) -> Result<InvoiceContent, Problems> {
        let mut p = Problems::new();
        let content = content(
            &mut p,
            &self.line_items,
            self.issue_date.as_deref(),
            issued_on,
            &self.due_date,
            self.notes.as_deref(),
        );
        p.into_result()?;
        content.ok_or_else(|| Problems::one("invoice", "is invalid"))
    }
}

/// The body of `PUT /api/v1/financial/payments/{payment_id}`: what may change of a
/// recorded payment. Its amount, method, lease and applications are what the ledger
/// recorded: sending them (or any other field) is a 422; a refund corrects money.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentChangeInput {
    /// Up to 1000 characters; left out, the payment has none.
    #[serde(default)]
    pub memo: Option<String>,
    /// The cheque number, transfer reference, ...: up to 100 characters; left out, none.
    #[serde(default)]
    pub reference: Option<String>,
}

/// A validated payment change: the memo and the reference.
#[derive(Debug, Clone)]
pub struct PaymentChange {
    pub memo: Option<String>,
    pub reference: Option<String>,
}

impl PaymentChangeInput {
    pub fn validate(&self) -> Result<PaymentChange, Problems> {
        let mut p = Problems::new();
        let memo = self.memo.as_deref().map(|m| p.text("memo", m, 0, 1000)).filter(|m| !m.is_empty());
        let reference = self.reference.as_deref().map(|r| p.text("reference", r, 1, 100));
        p.into_result()?;
        Ok(PaymentChange { memo, reference })
    }
}

/// The body of `POST /api/v1/financial/payments`: money received for a lease.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    pub lease_id: String,
    /// More than 0, two decimals at most.
    #[schema(value_type = f64, example = 1200.00)]
    pub amount: serde_json::Number,
    pub method: PaymentMethod,
    /// ISO 4217; when given, must be the lease's currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// The cheque number, transfer reference, ...: up to 100 characters.
    #[serde(default)]
    pub reference: Option<String>,
    /// `YYYY-MM-DD`; defaults to today (UTC).
    #[serde(default)]
    pub received_on: Option<String>,
    /// The open invoices to pay, in this order; by default the lease's open invoices,
    /// oldest due first. What is left over becomes a credit on the lease.
    #[serde(default)]
    pub invoice_ids: Option<Vec<String>>,
}

/// A validated payment request.
#[derive(Debug, Clone)]
pub struct PaymentTerms {
    pub lease_id: LeaseId,
    pub amount: Money,
    pub method: PaymentMethod,
    pub currency: Option<Currency>,
    pub reference: Option<String>,
    pub received_on: Date,
    pub invoice_ids: Option<Vec<String>>,
}

impl PaymentInput {
    pub fn validate(&self) -> Result<PaymentTerms, Problems> {
        let mut p = Problems::new();
        let lease_id = lease_id(&mut p, &self.lease_id);
        let amount = positive_amount(&mut p, "amount", &self.amount);
        let currency = currency(&mut p, self.currency.as_deref());
        let reference = self.reference.as_deref().map(|r| p.text("reference", r, 1, 100));
        let received_on = match &self.received_on {
            Some(raw) => p.date("received_on", raw),
            None => Some(calendar::today()),
        };
        if let Some(ids) = &self.invoice_ids {
            if ids.is_empty() || ids.len() > 20 {
                p.add("invoice_ids", "must name 1 to 20 invoices");
            }
            if ids.iter().any(|id| InvoiceId::parse(id).is_none()) {
                p.add("invoice_ids", "must be invoice ids");
            }
            if (1..ids.len()).any(|i| ids[..i].contains(&ids[i])) {
                p.add("invoice_ids", "must not repeat an invoice");
            }
        }
        p.into_result()?;
        let invalid = || Problems::one("payment", "is invalid");
        Ok(PaymentTerms {
            lease_id: lease_id.ok_or_else(invalid)?,
            amount: amount.ok_or_else(invalid)?,
            method: self.method,
            currency,
            reference,
            received_on: received_on.ok_or_else(invalid)?,
            invoice_ids: self.invoice_ids.clone(),
        })
    }
}

/// Days after today a rent run may charge: rent is not charged for further ahead.
pub const RUN_DAYS_AHEAD: i64 = 31;

/// The body of `POST /api/v1/financial/rent-runs`: the day to run the rent job for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RentRunInput {
    /// `YYYY-MM-DD`, at most 31 days after today (UTC): leases due that day are charged
    /// their rent for its month, and late fees due that day are charged.
    #[schema(example = "2026-01-01")]
    pub date: String,
}

impl RentRunInput {
    pub fn validate(&self, today: Date) -> Result<Date, Problems> {
        let mut p = Problems::new();
        let date = p.date("date", &self.date);
        if date.is_some_and(|d| d > today + time::Duration::days(RUN_DAYS_AHEAD)) {
            p.add("date", format!("must be at most {RUN_DAYS_AHEAD} days after today"));
        }
        p.into_result()?;
        date.ok_or_else(|| Problems::one("date", "is invalid"))
    }
}

/// The body of `PUT /api/v1/financial/late-fee-policies/{property_id}`: one fee per rent
/// invoice still unpaid after the grace days.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LateFeePolicyInput {
    /// 0 to 60 days after the due date before the fee applies.
    pub grace_days: u16,
    #[serde(rename = "type")]
    pub fee_type: LateFeeType,
    /// `flat` only: the fee, more than 0, in the lease's currency.
    #[serde(default)]
    #[schema(value_type = Option<f64>, example = 50.00)]
    pub amount: Option<serde_json::Number>,
    /// `percent` only: more than 0 and at most 100, two decimals at most, of the rent
    /// still owed on the invoice.
    #[serde(default)]
    #[schema(value_type = Option<f64>, example = 5)]
    pub percent: Option<serde_json::Number>,
    /// The most one fee can be, more than 0.
    #[serde(default)]
    #[schema(value_type = Option<f64>, example = 100.00)]
    pub max_amount: Option<serde_json::Number>,
}

/// A validated late-fee policy.
#[derive(Debug, Clone)]
pub struct LateFeeTerms {
    pub grace_days: u16,
    pub fee: LateFee,
    pub max_amount: Option<Money>,
}

impl LateFeePolicyInput {
    pub fn validate(&self) -> Result<LateFeeTerms, Problems> {
        let mut p = Problems::new();
        if self.grace_days > MAX_GRACE_DAYS {
            p.add("grace_days", format!("must be 0 to {MAX_GRACE_DAYS}"));
        }
        let fee = match self.fee_type {
            LateFeeType::Flat => {
                if self.percent.is_some() {
                    p.add("percent", "is only for a percent fee");
                }
                match &self.amount {
                    Some(raw) => positive_amount(&mut p, "amount", raw).map(|amount| LateFee::Flat { amount }),
                    None => {
                        p.add("amount", "is required for a flat fee");
                        None
                    }
                }
            }
            LateFeeType::Percent => {
                if self.amount.is_some() {
                    p.add("amount", "is only for a flat fee");
                }
                // Two decimals of a percentage are basis points, as two decimals of money are cents.
                let basis_points = match &self.percent {
                    Some(raw) => positive_amount(&mut p, "percent", raw),
                    None => {
                        p.add("percent", "is required for a percent fee");
                        None
                    }
                };
                match basis_points {
                    Some(bp) if bp.0 > i64::from(MAX_BASIS_POINTS) => {
                        p.add("percent", "must be at most 100");
                        None
                    }
                    Some(bp) => u32::try_from(bp.0).ok().map(|basis_points| LateFee::Percent { basis_points }),
                    None => None,
                }
            }
        };
        let max_amount = self.max_amount.as_ref().and_then(|raw| positive_amount(&mut p, "max_amount", raw));
        p.into_result()?;
        let fee = fee.ok_or_else(|| Problems::one("type", "is invalid"))?;
        Ok(LateFeeTerms { grace_days: self.grace_days, fee, max_amount })
    }
}

/// The body of `POST /api/v1/financial/payment-methods`: a reference to a method the
/// processor holds. A full card number or a security code anywhere in it is a 422.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodInput {
    pub lease_id: String,
    pub processor: Processor,
    /// The processor's id or token for the method (`pm_...` at Stripe): 1 to 255
    /// characters, no spaces.
    pub processor_token: String,
    #[serde(rename = "type")]
    pub kind: MethodKind,
    /// The card brand or bank name: up to 40 characters.
    #[serde(default)]
    pub brand: Option<String>,
    /// The last four digits; required for a card.
    #[serde(default)]
    pub last4: Option<String>,
    /// 1 to 12; with `exp_year`.
    #[serde(default)]
    pub exp_month: Option<u8>,
    /// Four digits; with `exp_month`.
    #[serde(default)]
    pub exp_year: Option<u16>,
}

/// A validated payment-method request.
#[derive(Debug, Clone)]
pub struct PaymentMethodTerms {
    pub lease_id: LeaseId,
    pub processor: Processor,
    pub processor_token: String,
    pub kind: MethodKind,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub expiry: Option<(u8, u16)>,
}

impl PaymentMethodInput {
    pub fn validate(&self) -> Result<PaymentMethodTerms, Problems> {
        let mut p = Problems::new();
        let lease_id = lease_id(&mut p, &self.lease_id);
        let processor_token = p.text("processor_token", &self.processor_token, 1, 255);
        if processor_token.chars().any(char::is_whitespace) {
            p.add("processor_token", "must not contain spaces");
        }
        let brand = self.brand.as_deref().map(|b| p.text("brand", b, 1, 40));
        if let Some(last4) = &self.last4
            && (last4.len() != 4 || !last4.chars().all(|c| c.is_ascii_digit()))
        {
            p.add("last4", "must be the last four digits");
        }
        if self.kind == MethodKind::Card && self.last4.is_none() {
            p.add("last4", "is required for a card");
        }
        let expiry = match (self.exp_month, self.exp_year) {
            (None, None) => None,
            (Some(month), Some(year)) => {
                if !(1..=12).contains(&month) {
                    p.add("exp_month", "must be 1 to 12");
                }
                if !(2000..=2099).contains(&year) {
                    p.add("exp_year", "must be a four-digit year");
                }
                Some((month, year))
            }
            (None, Some(_)) => {
                p.add("exp_month", "is required with exp_year");
                None
            }
            (Some(_), None) => {
                p.add("exp_year", "is required with exp_month");
                None
            }
        };
        p.into_result()?;
        Ok(PaymentMethodTerms {
            lease_id: lease_id.ok_or_else(|| Problems::one("lease_id", "must be a lease id"))?,
            processor: self.processor,
            processor_token,
            kind: self.kind,
            brand,
            last4: self.last4.clone(),
            expiry,
        })
    }
}

/// The body of `POST /api/v1/financial/payments/{payment_id}/refund`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// More than 0, two decimals at most, not more than what is left to refund; by
    /// default all of it.
    #[serde(default)]
    #[schema(value_type = Option<f64>, example = 250.00)]
    pub amount: Option<serde_json::Number>,
    /// Why the money goes back: 1 to 500 characters.
    pub reason: String,
}

/// A validated refund: `amount` `None` gives back all that is left.
#[derive(Debug, Clone)]
pub struct RefundTerms {
    pub amount: Option<Money>,
    pub reason: String,
    /// The processor's id of the refund: a refund with one is recorded once per payment.
    pub external_reference: Option<String>,
}

impl RefundInput {
    pub fn validate(&self) -> Result<RefundTerms, Problems> {
        let mut p = Problems::new();
        let amount = self.amount.as_ref().and_then(|raw| positive_amount(&mut p, "amount", raw));
        let reason = p.text("reason", &self.reason, 1, 500);
        p.into_result()?;
        Ok(RefundTerms { amount, reason, external_reference: None })
    }
}
