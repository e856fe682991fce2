//! The rent job: on each lease's due day it issues the lease's rent invoice for the
//! period, and it charges late fees on rent invoices still unpaid after their property's
//! grace days.
//!
//! Each charge is one transaction with its claim (the lease and period, or the overdue
//! invoice), so a run repeated, run concurrently or delivered twice charges once. Leases
//! and invoices are read a page at a time from their indexes and charged
//! [`CONCURRENCY`] at a time, so memory stays flat whatever the portfolio. The scheduled
//! run of a day keeps a checkpoint: a tick of the schedule works for at most its budget,
//! then records where it stopped, and the next tick continues there.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{Value, json};
use shared::domain::calendar;
use shared::domain::ids::{InvoiceId, RentRunId};
use shared::domain::invoice::{Invoice, InvoiceStatus, LineItem};
use shared::domain::late_fee::LateFeePolicy;
use shared::domain::lease::Lease;
use shared::domain::ledger::{ChargeCategory, EntryKind, EntryLine, LeaseBalance};
use shared::domain::money::Money;
use shared::domain::rent_run::{RentRun, RentRunTrigger, RunCounts, period_of, rent_due_on, scheduled_run_id};
use shared::store::StoreError;
use shared::store::page::PageKey;
use shared::store::rent_runs::{DayPhase, LATE_FEE_SHARDS, LateFeeCharged, RentIssued, ScheduledDay};
use shared::{Services, time_format};
use time::{Date, OffsetDateTime};

use crate::ledgers::LEDGER_ATTEMPTS;

/// Leases or invoices read per page.
pub const PAGE: usize = 100;

/// Charges in flight at once.
pub const CONCURRENCY: usize = 16;

/// How long one tick of the schedule works before it records its checkpoint and leaves
/// the rest to the next tick (the function's timeout is 15 minutes).
pub const TICK_BUDGET: Duration = Duration::from_secs(12 * 60);

/// How long a tick holds the day against other ticks (the function's timeout).
const HOLD: time::Duration = time::Duration::minutes(15);

/// Why a lease or an invoice could not be charged.
#[derive(Debug)]
enum ChargeError {
    Store(StoreError),
    /// The lease has the most open invoices it can keep.
    NoRoom,
    /// The ledger kept changing under every attempt.
    Busy,
}

impl std::fmt::Display for ChargeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChargeError::Store(error) => write!(f, "{error}"),
            ChargeError::NoRoom => f.write_str("the lease has the most open invoices it can keep"),
            ChargeError::Busy => f.write_str("the lease's ledger kept changing"),
        }
    }
}

impl From<StoreError> for ChargeError {
    fn from(error: StoreError) -> Self {
        ChargeError::Store(error)
    }
}

/// What charging one lease or one invoice came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charged {
    Rent,
    RentBefore,
    LateFee,
    LateFeeBefore,
    /// Nothing to charge (no policy, within grace, paid meanwhile).
    Nothing,
}

impl Charged {
    fn counts(result: &Result<Charged, ChargeError>) -> RunCounts {
        let mut counts = RunCounts::default();
        match result {
            Ok(Charged::Rent) => counts.issued = 1,
            Ok(Charged::RentBefore) => counts.already_issued = 1,
            Ok(Charged::LateFee) => counts.late_fees = 1,
            Ok(Charged::LateFeeBefore) => counts.late_fees_already = 1,
            Ok(Charged::Nothing) => {}
            Err(_) => counts.errors = 1,
        }
        counts
    }
}

/// The rent job over the services' table.
pub struct RentJob<'a> {
    services: &'a Services,
    budget: Duration,
    /// Pages one tick reads at most before it leaves a checkpoint.
    pages_per_tick: u64,
}

/// An invoice to `party` with `lines`, issued and due on `day`, of which `from_credit`
/// is already paid by the lease's credit.
fn new_invoice(
    party: InvoiceParty<'_>,
    lines: Vec<LineItem>,
    day: Date,
    from_credit: Money,
    now: OffsetDateTime,
) -> Invoice {
    let total = Money(lines.iter().map(|l| l.amount.0).sum());
    Invoice {
        id: party.invoice_id.to_owned(),
        org_id: party.org_id.to_owned(),
        lease_id: party.lease_id.to_owned(),
        property_id: party.property_id.to_owned(),
        unit_id: party.unit_id.to_owned(),
        tenant_ids: party.tenant_ids.to_vec(),
        currency: party.currency.clone(),
        line_items: lines,
        total,
        amount_paid: from_credit,
        status: InvoiceStatus::of_payments(from_credit, total),
        issue_date: day,
        due_date: day,
        notes: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// Who a new invoice is for: a lease's (or an earlier invoice's) parties.
struct InvoiceParty<'a> {
    invoice_id: &'a str,
    org_id: &'a str,
    lease_id: &'a str,
    property_id: &'a str,
    unit_id: &'a str,
    tenant_ids: &'a [String],
    currency: &'a shared::domain::money::Currency,
}

/// The charge of one invoice line, for the ledger.
fn charge_line<'a>(line: &'a LineItem, invoice_id: &'a str) -> EntryLine<'a> {
    EntryLine {
        kind: EntryKind::Charge,
        category: Some(line.category),
        amount: line.amount,
        description: &line.description,
        invoice_id: Some(invoice_id),
        payment_id: None,
    }
}

/// The rent still owed on an invoice: its rent lines, less what was paid on it.
fn overdue_rent(invoice: &Invoice) -> Money {
    let rent: i64 = invoice.line_items.iter().filter(|l| l.category == ChargeCategory::Rent).map(|l| l.amount.0).sum();
    Money(rent.min(invoice.outstanding().0).max(0))
}

impl<'a> RentJob<'a> {
    pub fn new(services: &'a Services) -> Self {
        Self { services, budget: TICK_BUDGET, pages_per_tick: u64::MAX }
    }

    /// The same job with a smaller budget per tick, in time and in pages (so a test
    /// sees a run continue from its checkpoint).
    pub fn with_budget(services: &'a Services, budget: Duration, pages_per_tick: u64) -> Self {
        Self { services, budget, pages_per_tick }
    }

    async fn balance(&self, org_id: &str, lease_id: &str) -> Result<Option<LeaseBalance>, StoreError> {
        self.services.store.ledger().balance(org_id, lease_id).await
    }

    /// Issues `lease`'s rent for the period of `day`, unless it was issued before.
    async fn charge_rent(&self, lease: &Lease, day: Date) -> Result<Charged, ChargeError> {
        let period = period_of(day);
        let description = format!("Rent {period}");
        for _ in 0..LEDGER_ATTEMPTS {
            let now = time_format::now();
            let balance = self.balance(&lease.org_id, &lease.id).await?;
            let balance = balance.unwrap_or_else(|| LeaseBalance::opening(lease, now));
            if !balance.has_room_for_invoice() {
                return Err(ChargeError::NoRoom);
            }
            let invoice_id = InvoiceId::generate();
            let lines = vec![LineItem {
                description: description.clone(),
                category: ChargeCategory::Rent,
                amount: lease.rent_charge(),
            }];
            let charges: Vec<EntryLine<'_>> = lines.iter().map(|l| charge_line(l, invoice_id.as_str())).collect();
            let (posting, from_credit) =
                balance.charge_invoice(invoice_id.as_str(), day, &charges, now, calendar::today());
            let party = InvoiceParty {
                invoice_id: invoice_id.as_str(),
                org_id: &lease.org_id,
                lease_id: &lease.id,
                property_id: &lease.property_id,
                unit_id: &lease.unit_id,
                tenant_ids: &lease.tenant_ids,
                currency: &lease.currency,
            };
            let invoice = new_invoice(party, lines.clone(), day, from_credit, now);
            match self.services.store.rent_runs().issue_rent(&invoice, &posting, &period).await? {
                RentIssued::Issued => return Ok(Charged::Rent),
                RentIssued::AlreadyIssued => return Ok(Charged::RentBefore),
                RentIssued::Changed => continue,
            }
        }
        Err(ChargeError::Busy)
    }

    /// Charges `invoice`'s late fee on `day` under `policy`, once.
    async fn charge_late_fee(
        &self,
        mut invoice: Invoice,
        policy: Option<&LateFeePolicy>,
        day: Date,
    ) -> Result<Charged, ChargeError> {
        let Some(policy) = policy else { return Ok(Charged::Nothing) };
        for _ in 0..LEDGER_ATTEMPTS {
            let owing = matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid);
            let fee = policy.fee_for(overdue_rent(&invoice));
            if !owing || fee.0 == 0 || !policy.applies_on(invoice.due_date, day) {
                return Ok(Charged::Nothing);
            }
            let now = time_format::now();
            let Some(balance) = self.balance(&invoice.org_id, &invoice.lease_id).await? else {
                return Ok(Charged::Nothing);
            };
            if !balance.has_room_for_invoice() {
                return Err(ChargeError::NoRoom);
            }
            let fee_id = InvoiceId::generate();
            let lines = vec![LineItem {
                description: format!("Late fee on invoice {}", invoice.id),
                category: ChargeCategory::LateFee,
                amount: fee,
            }];
            let charges: Vec<EntryLine<'_>> = lines.iter().map(|l| charge_line(l, fee_id.as_str())).collect();
            let (posting, from_credit) = balance.charge_invoice(fee_id.as_str(), day, &charges, now, calendar::today());
            let party = InvoiceParty {
                invoice_id: fee_id.as_str(),
                org_id: &invoice.org_id,
                lease_id: &invoice.lease_id,
                property_id: &invoice.property_id,
                unit_id: &invoice.unit_id,
                tenant_ids: &invoice.tenant_ids,
                currency: &invoice.currency,
            };
            let fee_invoice = new_invoice(party, lines.clone(), day, from_credit, now);
            let runs = self.services.store.rent_runs();
            match runs.charge_late_fee(&fee_invoice, &posting, &invoice).await? {
                LateFeeCharged::Charged => return Ok(Charged::LateFee),
                LateFeeCharged::AlreadyCharged => {
                    runs.leave_late_fee_index(&invoice).await?;
                    return Ok(Charged::LateFeeBefore);
                }
                LateFeeCharged::Changed => {
                    match self.services.store.ledger().invoice(&invoice.org_id, &invoice.id).await? {
                        Some(current) => invoice = current,
                        None => return Ok(Charged::Nothing),
                    }
                }
            }
        }
        Err(ChargeError::Busy)
    }

    /// Issues the rent of the leases of one page that are due on `day`: their claims
    /// read in one batch, then [`CONCURRENCY`] charges at a time. Counts by organization.
    async fn charge_rent_page(&self, leases: Vec<Lease>, day: Date) -> Result<BTreeMap<String, RunCounts>, StoreError> {
        let due: Vec<Lease> = leases.into_iter().filter(|l| rent_due_on(l, day)).collect();
        let period = period_of(day);
        let claims: Vec<(String, String, String)> =
            due.iter().map(|l| (l.org_id.clone(), l.id.clone(), period.clone())).collect();
        let charged = self.services.store.rent_runs().already_charged(&claims).await?;
        let mut counts: BTreeMap<String, RunCounts> = BTreeMap::new();
        for lease in due.iter().filter(|l| charged.contains(&l.id)) {
            counts.entry(lease.org_id.clone()).or_default().already_issued += 1;
        }
        let pending: Vec<Lease> = due.into_iter().filter(|l| !charged.contains(&l.id)).collect();
        let results: Vec<(String, RunCounts)> = stream::iter(pending)
            .map(move |lease| async move {
                let result = self.charge_rent(&lease, day).await;
                if let Err(error) = &result {
                    tracing::warn!(lease_id = %lease.id, org_id = %lease.org_id, %error, "rent not charged");
                }
                (lease.org_id.clone(), Charged::counts(&result))
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (org_id, c) in results {
            counts.entry(org_id).or_default().add(c);
        }
        Ok(counts)
    }

    /// Charges the late fees of one page of overdue invoices on `day`, with each
    /// property's policy (read once per property and kept in `policies`).
    async fn charge_late_fee_page(
        &self,
        invoices: Vec<Invoice>,
        day: Date,
        policies: &mut HashMap<(String, String), Option<LateFeePolicy>>,
    ) -> Result<BTreeMap<String, RunCounts>, StoreError> {
        let invoices: Vec<Invoice> =
            invoices.into_iter().filter(|i| i.line_items.iter().any(|l| l.category == ChargeCategory::Rent)).collect();
        for invoice in &invoices {
            let key = (invoice.org_id.clone(), invoice.property_id.clone());
            if let Entry::Vacant(vacant) = policies.entry(key) {
                let (org_id, property_id) = vacant.key();
                let policy = self.services.store.rent_runs().policy(org_id, property_id).await?;
                vacant.insert(policy);
            }
        }
        let policies = &*policies;
        let results: Vec<(String, RunCounts)> = stream::iter(invoices)
            .map(move |invoice| async move {
                let org_id = invoice.org_id.clone();
                let invoice_id = invoice.id.clone();
                let policy =
                    policies.get(&(invoice.org_id.clone(), invoice.property_id.clone())).and_then(Option::as_ref);
                let result = self.charge_late_fee(invoice, policy, day).await;
                if let Err(error) = &result {
                    tracing::warn!(%invoice_id, %org_id, %error, "late fee not charged");
                }
                (org_id, Charged::counts(&result))
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut counts: BTreeMap<String, RunCounts> = BTreeMap::new();
        for (org_id, c) in results {
            counts.entry(org_id).or_default().add(c);
        }
        Ok(counts)
    }

    /// Runs the job of `day` for one organization (`POST /api/v1/financial/rent-runs`):
    /// its leases due that day, then its rent invoices overdue on that day.
    pub async fn run_for_organization(&self, org_id: &str, day: Date) -> Result<RentRun, StoreError> {
        let mut run = RentRun {
            id: RentRunId::generate().into(),
            org_id: org_id.to_owned(),
            date: day,
            trigger: RentRunTrigger::Requested,
            issued: 0,
            already_issued: 0,
            late_fees: 0,
            late_fees_already: 0,
            errors: 0,
            started_at: time_format::now(),
            finished_at: None,
        };
        let mut counts = RunCounts::default();
        let runs = self.services.store.rent_runs();
        let mut start = None;
        loop {
            let page = runs.leases_due(day, Some(org_id), start, PAGE).await?;
            counts.add(self.charge_rent_page(page.items, day).await?.remove(org_id).unwrap_or_default());
            let Some(next) = page.next else { break };
            start = Some(next);
        }
        let mut policies = HashMap::new();
        let mut start = None;
        loop {
            let page = runs.overdue_invoices(org_id, day, start, PAGE).await?;
            let found = self.charge_late_fee_page(page.items, day, &mut policies).await?;
            counts.add(found.get(org_id).copied().unwrap_or_default());
            let Some(next) = page.next else { break };
            start = Some(next);
        }
        run.issued = counts.issued;
        run.already_issued = counts.already_issued;
        run.late_fees = counts.late_fees;
        run.late_fees_already = counts.late_fees_already;
        run.errors = counts.errors;
        run.finished_at = Some(time_format::now());
        runs.save_run(&run).await?;
        Ok(run)
    }

    /// Adds one page's counts to each organization's record of the scheduled run.
    async fn record(&self, day: &ScheduledDay, counts: BTreeMap<String, RunCounts>) -> Result<(), StoreError> {
        for (org_id, counts) in counts.into_iter().filter(|(_, c)| !c.is_empty()) {
            let run = RentRun {
                id: day.run_id.clone(),
                org_id,
                date: day.date,
                trigger: RentRunTrigger::Scheduled,
                issued: 0,
                already_issued: 0,
                late_fees: 0,
                late_fees_already: 0,
                errors: 0,
                started_at: day.started_at,
                finished_at: None,
            };
            self.services.store.rent_runs().add_counts(&run, counts).await?;
        }
        Ok(())
    }

    /// One tick of the daily schedule for `day`, over every organization: continues the
    /// day's run from its checkpoint until it is done or this tick's budget is spent.
    /// A tick that finds the day finished, or held by another tick, does nothing.
    pub async fn run_scheduled(&self, day: Date, now: OffsetDateTime) -> Result<Value, StoreError> {
        let runs = self.services.store.rent_runs();
        let started = Instant::now();
        let Some(mut state) = runs.hold_day(day, &scheduled_run_id(day), now, now + HOLD).await? else {
            return Ok(json!({ "date": calendar::format_date(day), "state": "finished_or_running" }));
        };
        let mut policies = HashMap::new();
        let mut pages = 0u64;
        loop {
            if state.phase == DayPhase::Done {
                state.finished_at = Some(time_format::now());
                state.held_until = None;
                runs.save_day(&state).await?;
                return Ok(
                    json!({ "date": calendar::format_date(day), "run_id": state.run_id, "state": "finished", "pages": pages }),
                );
            }
            if started.elapsed() >= self.budget || pages >= self.pages_per_tick {
                // Let the next tick continue at once.
                state.held_until = None;
                runs.save_day(&state).await?;
                return Ok(
                    json!({ "date": calendar::format_date(day), "run_id": state.run_id, "state": "continues", "pages": pages }),
                );
            }
            let start: Option<PageKey> = state.cursor.take();
            let next = match state.phase {
                DayPhase::Charges => {
                    let page = runs.leases_due(day, None, start, PAGE).await?;
                    let counts = self.charge_rent_page(page.items, day).await?;
                    self.record(&state, counts).await?;
                    if page.next.is_none() {
                        state.phase = DayPhase::LateFees;
                        state.shard = 0;
                    }
                    page.next
                }
                DayPhase::LateFees => {
                    let page = runs.late_fee_candidates(state.shard, day, start, PAGE).await?;
                    let counts = self.charge_late_fee_page(page.items, day, &mut policies).await?;
                    self.record(&state, counts).await?;
                    if page.next.is_none() {
                        state.shard += 1;
                        if state.shard >= LATE_FEE_SHARDS {
                            state.phase = DayPhase::Done;
                        }
                    }
                    page.next
                }
                DayPhase::Done => None,
            };
            state.cursor = next;
            pages += 1;
            runs.save_day(&state).await?;
        }
    }
}

/// The job an invocation that is not an HTTP request asks for: a tick of the daily rent
/// schedule (an EventBridge `Scheduled Event`, whose `time` names the day, UTC).
pub async fn run_job(services: &Services, payload: Value, now: OffsetDateTime) -> Result<Value, lambda_http::Error> {
    if payload.get("detail-type").and_then(Value::as_str) != Some("Scheduled Event") {
        return Err("the financial function runs only the daily rent schedule besides its routes".into());
    }
    let at = payload.get("time").and_then(Value::as_str).and_then(time_format::parse).unwrap_or(now);
    Ok(RentJob::new(services).run_scheduled(at.date(), now).await?)
}
