//! The rent job's items and indexes: the claims that make each rent charge and each late
//! fee happen once, the leases by due day, the open invoices by due date (the overdue
//! index), late-fee policies, and the record of each run.
//!
//! | pattern | key condition |
//! |---|---|
//! | leases due on day `dd` (all organizations / one) | GSI2: `GSI2PK=RENTDAY#<dd>` (`AND begins_with(GSI2SK, <org>#)`) |
//! | an organization's open invoices due before a day (the overdue index) | GSI1: `GSI1PK=ORG#<org>#OPENINVOICES`, `GSI1SK < <day>` |
//! | open rent invoices without a late fee, due before a day | GSI2: `GSI2PK=LATEFEES#<shard 0–7>`, `GSI2SK < <day>` |
//! | a lease's rent of one period / an invoice's late fee (claims) | `PK=ORG#<org>`, `SK=RENTCHARGE#<lease>#<YYYY-MM>` / `SK=LATEFEE#<inv>` |
//! | a property's late-fee policy | `PK=ORG#<org>`, `SK=LATEFEEPOLICY#<prop>` |
//! | an organization's runs, newest first | `PK=ORG#<org>`, `SK begins_with RENTRUN#` |
//! | the scheduled run of a day (checkpoint) | `PK=RENTRUNS`, `SK=DAY#<YYYY-MM-DD>` |
//!
//! The index keys of an invoice follow its status: [`invoice_index_keys`] sets them on
//! every write of an `open` or `partially_paid` invoice, and the write that pays it in
//! full removes them ([`CLOSED_INVOICE_INDEX_KEYS`]), in the same transaction as the
//! ledger change. An invoice is overdue from the day after its due date with no write:
//! readers compare the due date in the key with today.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::domain::calendar::{self, iso_date};
use crate::domain::invoice::{Invoice, InvoiceStatus};
use crate::domain::late_fee::LateFeePolicy;
use crate::domain::lease::Lease;
use crate::domain::ledger::{ChargeCategory, Posting};
use crate::domain::rent_run::{RentRun, RunCounts};
use crate::store::keys::{self, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK};
use crate::store::ledger::{invoice_item, posting_items};
use crate::store::page::{Page, PageKey};
use crate::store::requests::{entity_item, put, put_if_new, query_page, query_raw_page};
use crate::store::transactions::{TransactItem, batch_get, condition_failed, transact, unexpected_cancellation};
use crate::store::{Item, Store, StoreError, n, s, update_if};
use crate::time_format;

/// The late-fee index is spread over this many partitions, so the rent charges of the
/// first of the month write no hot index partition.
pub const LATE_FEE_SHARDS: u32 = 8;

/// The removal of an invoice's index keys, for the write that closes it.
pub const CLOSED_INVOICE_INDEX_KEYS: &str = "REMOVE GSI1PK, GSI1SK, GSI2PK, GSI2SK";

const RUN_PREFIX: &str = "RENTRUN#";
const DAYS_PARTITION: &str = "RENTRUNS";

fn rent_day(day: u8) -> String {
    format!("RENTDAY#{day:02}")
}

fn rent_charge(lease_id: &str, period: &str) -> String {
    format!("RENTCHARGE#{lease_id}#{period}")
}

fn late_fee_claim(invoice_id: &str) -> String {
    format!("LATEFEE#{invoice_id}")
}

fn late_fee_policy(property_id: &str) -> String {
    format!("LATEFEEPOLICY#{property_id}")
}

fn rent_run(run_id: &str) -> String {
    format!("{RUN_PREFIX}{run_id}")
}

fn scheduled_day(day: Date) -> String {
    format!("DAY#{}", calendar::format_date(day))
}

fn open_invoices_of(org_id: &str) -> String {
    keys::collection(org_id, "OPENINVOICES")
}

fn late_fee_shard(invoice_id: &str) -> u32 {
    invoice_id.bytes().map(u32::from).sum::<u32>() % LATE_FEE_SHARDS
}

fn late_fee_partition(shard: u32) -> String {
    format!("LATEFEES#{shard}")
}

/// Puts a lease on the index of its due day (GSI2), which the rent job reads a page at a time.
pub(crate) fn lease_index_keys(item: &mut Item, lease: &Lease) {
    item.insert(GSI2PK.into(), s(rent_day(lease.due_day)));
    item.insert(GSI2SK.into(), s(format!("{}#{}", lease.org_id, lease.id)));
}

/// Puts an `open` or `partially_paid` invoice on the overdue index (GSI1) and, when it
/// charges rent, on the late-fee index (GSI2); other statuses get neither.
pub(crate) fn invoice_index_keys(item: &mut Item, invoice: &Invoice) {
    if !matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid) {
        return;
    }
    let due = calendar::format_date(invoice.due_date);
    item.insert(GSI1PK.into(), s(open_invoices_of(&invoice.org_id)));
    item.insert(GSI1SK.into(), s(format!("{due}#{}", invoice.id)));
    if invoice.line_items.iter().any(|l| l.category == ChargeCategory::Rent) {
        item.insert(GSI2PK.into(), s(late_fee_partition(late_fee_shard(&invoice.id))));
        item.insert(GSI2SK.into(), s(format!("{due}#{}#{}", invoice.org_id, invoice.id)));
    }
}

/// The outcome of [`RentRunRepository::issue_rent`].
#[derive(Debug, PartialEq, Eq)]
pub enum RentIssued {
    Issued,
    /// The lease's rent for the period was issued before (by another run, or a redelivery).
    AlreadyIssued,
    /// Another change of the lease's ledger committed first: read the balance again.
    Changed,
}

/// The outcome of [`RentRunRepository::charge_late_fee`].
#[derive(Debug, PartialEq, Eq)]
pub enum LateFeeCharged {
    Charged,
    /// The invoice's late fee was charged before.
    AlreadyCharged,
    /// The ledger or the invoice changed first (a payment): read them again.
    Changed,
}

/// Where the scheduled run of a day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayPhase {
    /// Issuing rent to the leases due that day.
    Charges,
    /// Charging late fees, shard by shard.
    LateFees,
    Done,
}

/// The checkpoint of the scheduled run of one day, across organizations: where it
/// stopped, so the next tick of the schedule continues there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledDay {
    #[serde(with = "iso_date")]
    pub date: Date,
    pub run_id: String,
    pub phase: DayPhase,
    /// The late-fee index shard the `late_fees` phase is at.
    #[serde(default)]
    pub shard: u32,
    /// The page key to continue from in the current phase.
    #[serde(default)]
    pub cursor: Option<PageKey>,
    #[serde(with = "time_format::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Absent until the run is done (the condition of [`RentRunRepository::hold_day`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::calendar::rfc3339_option")]
    pub finished_at: Option<OffsetDateTime>,
    /// A tick works on the day until then; another tick leaves it alone meanwhile.
    /// `None`: no tick holds it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::calendar::rfc3339_option")]
    pub held_until: Option<OffsetDateTime>,
}

/// A claim item: what makes one charge happen once.
fn claim_item(org_id: &str, sk: String, entity: &str, fields: &[(&str, &str)]) -> Item {
    let mut item =
        Item::from([(PK.into(), s(keys::org(org_id))), (SK.into(), s(sk)), (keys::ENTITY.into(), s(entity))]);
    item.extend(fields.iter().map(|(name, value)| ((*name).to_owned(), s(*value))));
    item
}

/// The items of a charge's transaction: the ledger posting (the balance first), the new
/// invoice and the charge's claim (both `attribute_not_exists`); and the claim's index.
fn charge_items(
    store: &Store,
    invoice: &Invoice,
    posting: &Posting,
    claim: Item,
) -> Result<(Vec<TransactWriteItem>, usize), StoreError> {
    let mut items = posting_items(store, posting)?;
    items.push(put_if_new(store, invoice_item(invoice)?)?.transact_item()?);
    items.push(put_if_new(store, claim)?.transact_item()?);
    let claim_at = items.len() - 1;
    Ok((items, claim_at))
}

impl Store {
    pub fn rent_runs(&self) -> RentRunRepository<'_> {
        RentRunRepository { store: self }
    }
}

pub struct RentRunRepository<'a> {
    store: &'a Store,
}

fn from_items<T: serde::de::DeserializeOwned>(page: Page<Item>) -> Result<Page<T>, StoreError> {
    page.try_map(|item| Ok(serde_dynamo::from_item(item)?))
}

impl RentRunRepository<'_> {
    fn index_query(&self, index: &str, pk_name: &str, pk: String) -> QueryFluentBuilder {
        self.store
            .client()
            .query()
            .table_name(self.store.table())
            .index_name(index)
            .key_condition_expression(format!("{pk_name} = :pk AND {} < :before", index_sort_key(index)))
            .expression_attribute_values(":pk", s(pk))
    }

    /// One page of the leases due on `day_of_month` that hold their unit on `day`, of every
    /// organization or of one: a `Query` of GSI2 (leases outside their dates are filtered out).
    pub async fn leases_due(
        &self,
        day: Date,
        org_id: Option<&str>,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Lease>, StoreError> {
        let mut request = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .index_name(GSI2)
            .expression_attribute_values(":pk", s(rent_day(day.day())))
            .filter_expression("start_date <= :day AND effective_end >= :day")
            .expression_attribute_values(":day", s(calendar::format_date(day)));
        request = match org_id {
            Some(org_id) => request
                .key_condition_expression("GSI2PK = :pk AND begins_with(GSI2SK, :org)")
                .expression_attribute_values(":org", s(format!("{org_id}#"))),
            None => request.key_condition_expression("GSI2PK = :pk"),
        };
        let request = request.limit(i32::try_from(limit).unwrap_or(i32::MAX));
        from_items(query_raw_page(request, start, &[PK, SK, GSI2PK, GSI2SK]).await?)
    }

    /// The leases of `charges` (organization, lease, period) whose rent for the period
    /// was already issued: one batched read of their claims.
    pub async fn already_charged(&self, charges: &[(String, String, String)]) -> Result<BTreeSet<String>, StoreError> {
        let keys = charges.iter().map(|(org, lease, period)| (keys::org(org), rent_charge(lease, period)));
        let found = batch_get(self.store, keys).await?;
        Ok(found.iter().filter_map(|item| item.get("lease_id")?.as_s().ok().cloned()).collect())
    }

    /// Issues a lease's rent invoice for `period`: the claim of the lease and period
    /// (`attribute_not_exists`), the invoice, its charge and the balance in one
    /// transaction, so however many runs try, one invoice is issued per lease and period.
    pub async fn issue_rent(
        &self,
        invoice: &Invoice,
        posting: &Posting,
        period: &str,
    ) -> Result<RentIssued, StoreError> {
        let claim = claim_item(
            &invoice.org_id,
            rent_charge(&invoice.lease_id, period),
            "rent_charge",
            &[("lease_id", &invoice.lease_id), ("period", period), ("invoice_id", &invoice.id)],
        );
        let (items, claim_at) = charge_items(self.store, invoice, posting, claim)?;
        let Some(failed) = transact(self.store, items).await? else { return Ok(RentIssued::Issued) };
        if condition_failed(&failed, claim_at) {
            Ok(RentIssued::AlreadyIssued)
        } else if condition_failed(&failed, 0) {
            Ok(RentIssued::Changed)
        } else {
            Err(unexpected_cancellation("a new rent invoice's item already exists"))
        }
    }

    /// One page of an organization's open invoices due before `before`, oldest due
    /// first: a `Query` of the overdue index (GSI1).
    pub async fn overdue_invoices(
        &self,
        org_id: &str,
        before: Date,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Invoice>, StoreError> {
        let request = self
            .index_query(GSI1, GSI1PK, open_invoices_of(org_id))
            .expression_attribute_values(":before", s(calendar::format_date(before)));
        from_items(query_page(request, start, limit, &[PK, SK, GSI1PK, GSI1SK]).await?)
    }

    /// The tenants named by an organization's invoices due before `before` and still
    /// unpaid: the overdue index read page by page (only `tenant_ids` returned), never
    /// the renters.
    pub async fn overdue_tenant_ids(&self, org_id: &str, before: Date) -> Result<BTreeSet<String>, StoreError> {
        #[derive(Deserialize)]
        struct Named {
            tenant_ids: Vec<String>,
        }
        let request = self
            .index_query(GSI1, GSI1PK, open_invoices_of(org_id))
            .expression_attribute_values(":before", s(calendar::format_date(before)))
            .projection_expression("tenant_ids, PK, SK, GSI1PK, GSI1SK");
        let mut tenants = BTreeSet::new();
        let mut start = None;
        loop {
            let page = query_raw_page(request.clone(), start, &[PK, SK, GSI1PK, GSI1SK]).await?;
            for item in page.items {
                let named: Named = serde_dynamo::from_item(item)?;
                tenants.extend(named.tenant_ids);
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(tenants),
            }
        }
    }

    /// One page (as DynamoDB cuts it) of one shard of the late-fee index: open rent
    /// invoices without a late fee, due before `before`, oldest due first.
    pub async fn late_fee_candidates(
        &self,
        shard: u32,
        before: Date,
        start: Option<PageKey>,
        limit: usize,
    ) -> Result<Page<Invoice>, StoreError> {
        let request = self
            .index_query(GSI2, GSI2PK, late_fee_partition(shard))
            .expression_attribute_values(":before", s(calendar::format_date(before)))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        from_items(query_raw_page(request, start, &[PK, SK, GSI2PK, GSI2SK]).await?)
    }

    /// Charges `original`'s late fee as the invoice `fee`: the claim of the original
    /// invoice (`attribute_not_exists`), the fee invoice, its charge and the balance, and
    /// the original taken off the late-fee index (conditioned on its status and paid
    /// amount as read), in one transaction.
    pub async fn charge_late_fee(
        &self,
        fee: &Invoice,
        posting: &Posting,
        original: &Invoice,
    ) -> Result<LateFeeCharged, StoreError> {
        let claim = claim_item(
            &original.org_id,
            late_fee_claim(&original.id),
            "late_fee_charge",
            &[("invoice_id", &original.id), ("fee_invoice_id", &fee.id)],
        );
        let (mut items, claim_at) = charge_items(self.store, fee, posting, claim)?;
        let original_at = items.len();
        let still_owing = self
            .store
            .update_in_transaction(keys::org(&original.org_id), keys::invoice(&original.id))
            .update_expression("REMOVE GSI2PK, GSI2SK")
            .condition_expression("#status IN (:open, :partly) AND amount_paid = :paid")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":open", s(InvoiceStatus::Open.name()))
            .expression_attribute_values(":partly", s(InvoiceStatus::PartiallyPaid.name()))
            .expression_attribute_values(":paid", n(original.amount_paid.0));
        items.push(still_owing.transact_item()?);
        let Some(failed) = transact(self.store, items).await? else { return Ok(LateFeeCharged::Charged) };
        if condition_failed(&failed, claim_at) {
            Ok(LateFeeCharged::AlreadyCharged)
        } else if condition_failed(&failed, 0) || condition_failed(&failed, original_at) {
            Ok(LateFeeCharged::Changed)
        } else {
            Err(unexpected_cancellation("a new late-fee invoice's item already exists"))
        }
    }

    /// Takes an invoice off the late-fee index (its late fee was charged before the
    /// claim's transaction could do it, or it was rewritten since).
    pub async fn leave_late_fee_index(&self, invoice: &Invoice) -> Result<(), StoreError> {
        let request = self
            .store
            .update_item(keys::org(&invoice.org_id), keys::invoice(&invoice.id))
            .update_expression("REMOVE GSI2PK, GSI2SK")
            .condition_expression("attribute_exists(PK)");
        update_if(request).await.map(|_| ())
    }

    /// A property's late-fee policy (strongly consistent).
    pub async fn policy(&self, org_id: &str, property_id: &str) -> Result<Option<LateFeePolicy>, StoreError> {
        self.store.get_consistent(keys::org(org_id), late_fee_policy(property_id)).await
    }

    /// Saves a property's late-fee policy (the last write wins).
    pub async fn put_policy(&self, policy: &LateFeePolicy) -> Result<(), StoreError> {
        let item =
            entity_item(policy, keys::org(&policy.org_id), late_fee_policy(&policy.property_id), "late_fee_policy")?;
        put(self.store, item).await
    }

    /// Adds `counts` to an organization's record of a run, creating it at the first
    /// count: one `UpdateItem`.
    pub async fn add_counts(&self, run: &RentRun, counts: RunCounts) -> Result<(), StoreError> {
        let request = self
            .store
            .update_item(keys::org(&run.org_id), rent_run(&run.id))
            .update_expression(
                "SET id = if_not_exists(id, :id), org_id = if_not_exists(org_id, :org), #date = if_not_exists(#date, :date), \
                 #trigger = if_not_exists(#trigger, :trigger), started_at = if_not_exists(started_at, :started), \
                 #entity = :entity \
                 ADD issued :issued, already_issued :already, late_fees :fees, late_fees_already :fees_already, errors :errors",
            )
            .expression_attribute_names("#date", "date")
            .expression_attribute_names("#trigger", "trigger")
            .expression_attribute_names("#entity", keys::ENTITY)
            .expression_attribute_values(":id", s(&run.id))
            .expression_attribute_values(":org", s(&run.org_id))
            .expression_attribute_values(":date", s(calendar::format_date(run.date)))
            .expression_attribute_values(":trigger", serde_dynamo::to_attribute_value(run.trigger)?)
            .expression_attribute_values(":started", s(time_format::format(run.started_at)))
            .expression_attribute_values(":entity", s("rent_run"))
            .expression_attribute_values(":issued", n(counts.issued))
            .expression_attribute_values(":already", n(counts.already_issued))
            .expression_attribute_values(":fees", n(counts.late_fees))
            .expression_attribute_values(":fees_already", n(counts.late_fees_already))
            .expression_attribute_values(":errors", n(counts.errors));
        crate::store::update(request).await.map(|_| ())
    }

    /// Saves a finished requested run (its record as the run kept it).
    pub async fn save_run(&self, run: &RentRun) -> Result<(), StoreError> {
        let item = entity_item(run, keys::org(&run.org_id), rent_run(&run.id), "rent_run")?;
        put(self.store, item).await
    }

    /// One of the organization's runs.
    pub async fn run(&self, org_id: &str, run_id: &str) -> Result<Option<RentRun>, StoreError> {
        self.store.get_consistent(keys::org(org_id), rent_run(run_id)).await
    }

    /// One page of the organization's runs, newest first.
    pub async fn runs(&self, org_id: &str, start: Option<PageKey>, limit: usize) -> Result<Page<RentRun>, StoreError> {
        let request = crate::store::requests::org_prefix_query(self.store, org_id, RUN_PREFIX)
            .consistent_read(true)
            .scan_index_forward(false);
        from_items(query_page(request, start, limit, &[PK, SK]).await?)
    }

    /// Takes the scheduled run of `day` for one tick until `hold_until`, starting it if
    /// new: `None` when it is finished or another tick holds it. One `UpdateItem`.
    pub async fn hold_day(
        &self,
        day: Date,
        run_id: &str,
        now: OffsetDateTime,
        hold_until: OffsetDateTime,
    ) -> Result<Option<ScheduledDay>, StoreError> {
        let request = self
            .store
            .update_item(DAYS_PARTITION, scheduled_day(day))
            .update_expression(
                "SET held_until = :until, #date = if_not_exists(#date, :date), run_id = if_not_exists(run_id, :run), \
                 phase = if_not_exists(phase, :charges), started_at = if_not_exists(started_at, :now), #entity = :entity",
            )
            .condition_expression("attribute_not_exists(finished_at) AND (attribute_not_exists(held_until) OR held_until < :now)")
            .expression_attribute_names("#date", "date")
            .expression_attribute_names("#entity", keys::ENTITY)
            .expression_attribute_values(":until", s(time_format::format(hold_until)))
            .expression_attribute_values(":date", s(calendar::format_date(day)))
            .expression_attribute_values(":run", s(run_id))
            .expression_attribute_values(":charges", s("charges"))
            .expression_attribute_values(":now", s(time_format::format(now)))
            .expression_attribute_values(":entity", s("rent_run_day"))
            .return_values(ReturnValue::AllNew);
        let Some(output) = update_if(request).await? else { return Ok(None) };
        output.attributes.map(|item| Ok(serde_dynamo::from_item(item)?)).transpose()
    }

    /// Records where the scheduled run of a day stands (its phase, cursor, finish).
    pub async fn save_day(&self, day: &ScheduledDay) -> Result<(), StoreError> {
        let item = entity_item(day, DAYS_PARTITION.to_owned(), scheduled_day(day.date), "rent_run_day")?;
        put(self.store, item).await
    }

    /// The checkpoints of the scheduled runs of `days`, by day.
    pub async fn scheduled_days(&self, days: &[Date]) -> Result<BTreeMap<Date, ScheduledDay>, StoreError> {
        let keys = days.iter().map(|d| (DAYS_PARTITION.to_owned(), scheduled_day(*d)));
        batch_get(self.store, keys)
            .await?
            .into_iter()
            .map(|item| {
                let day: ScheduledDay = serde_dynamo::from_item(item)?;
                Ok((day.date, day))
            })
            .collect()
    }
}

fn index_sort_key(index: &str) -> &'static str {
    if index == GSI1 { GSI1SK } else { GSI2SK }
}
