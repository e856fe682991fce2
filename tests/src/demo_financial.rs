//! Demo money for `make dev`: invoices and payments on the leasing demo's current leases
//! and two more renters' leases, through the HTTP routes, so that `/api/ai/renters` shows
//! every payment status and `/api/ai/renters/overdue` lists the overdue renters:
//!
//! | renter | unit | ledger | status |
//! |---|---|---|---|
//! | John Smith (the demo tenant) | A101 | last month's rent unpaid | overdue |
//! | Wei Chen | B201 | last month's rent, 500.00 paid | overdue |
//! | Jane Doe and Bob Johnson | B202 | this month's rent, 1000.00 paid, not yet due | partial |
//! | Priya Patel | A102 | last month's rent paid with 200.00 over | credit |

use http::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::demo_leasing::DEMO_TENANT_ID;
use crate::{DEMO_ORG_ID, TestApp};

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

fn day(offset: i64) -> String {
    shared::domain::calendar::format_date(time::OffsetDateTime::now_utc().date() + Duration::days(offset))
}

/// A request that must succeed; writes carry an `Idempotency-Key`.
async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    uri: &str,
    body: Option<(&Value, &str)>,
) -> DemoResult<Value> {
    let headers: Vec<(&str, &str)> = body.iter().map(|(_, key)| ("idempotency-key", *key)).collect();
    let response = app.call(method.clone(), uri, Some(token), body.map(|(b, _)| b), &headers).await;
    if !response.status.is_success() {
        return Err(format!("{method} {uri}: {} {}", response.status, response.text).into());
    }
    Ok(response.body)
}

async fn created(app: &TestApp, token: &str, uri: &str, body: Value, key: &str) -> DemoResult<String> {
    let body = call(app, token, Method::POST, uri, Some((&body, key))).await?;
    Ok(body["data"]["id"].as_str().unwrap_or_default().to_owned())
}

/// Issues one rent invoice on a lease and records `paid` against it (if any).
async fn rent(app: &TestApp, token: &str, lease_id: &str, amount: f64, due: i64, paid: f64) -> DemoResult<()> {
    let invoice = json!({"lease_id": lease_id, "issue_date": day(due - 10), "due_date": day(due),
        "line_items": [{"description": "Rent", "category": "rent", "amount": amount}]});
    created(app, token, "/api/v1/financial/invoices", invoice, &format!("demo-invoice-{lease_id}")).await?;
    if paid > 0.0 {
        let payment = json!({"lease_id": lease_id, "amount": paid, "method": "bank_transfer", "reference": "DEMO"});
        created(app, token, "/api/v1/financial/payments", payment, &format!("demo-payment-{lease_id}")).await?;
    }
    Ok(())
}

/// Seeds the financial demo into the demo organization, once (any invoice marks it).
/// Needs the leasing demo.
pub async fn seed(app: &TestApp) -> DemoResult<()> {
    let token = app.token(DEMO_ORG_ID, &["OrganizationOwner"]);
    let invoices = call(app, &token, Method::GET, "/api/v1/financial/invoices?page_size=1", None).await?;
    if invoices["data"].as_array().is_some_and(|i| !i.is_empty()) {
        println!("financial demo data already present in {DEMO_ORG_ID}");
        return Ok(());
    }
    let current = call(app, &token, Method::GET, "/api/v1/leases?status=Current&page_size=100", None).await?;
    let current = current["data"].as_array().cloned().unwrap_or_default();
    let lease_of = |tenant: &str| {
        current.iter().find(|l| l["tenant_ids"].as_array().is_some_and(|t| t.iter().any(|t| t == tenant)))
    };
    let john = lease_of(DEMO_TENANT_ID).ok_or("the leasing demo's current lease of the demo tenant is missing")?;
    let property = john["property_id"].as_str().unwrap_or_default().to_owned();
    let units =
        call(app, &token, Method::GET, &format!("/api/v1/properties/{property}/units?page_size=100"), None).await?;
    let unit = |number: &str| -> DemoResult<String> {
        let units = units["data"].as_array().ok_or("no units")?;
        let found = units.iter().find(|u| u["unit_number"] == number).ok_or(format!("unit {number} is missing"))?;
        Ok(found["id"].as_str().unwrap_or_default().to_owned())
    };
    let shared_lease = current
        .iter()
        .find(|l| l["tenant_ids"].as_array().is_some_and(|t| t.len() > 1))
        .ok_or("the leasing demo's shared lease is missing")?;

    let tenants_uri = format!("/api/v1/properties/{property}/tenants");
    let renter = async |name: &str, email: &str, phone: &str, unit_number: &str, rent: u32| -> DemoResult<String> {
        let tenant = json!({"name": name, "email": email, "phone": phone});
        let tenant = created(app, &token, &tenants_uri, tenant, &format!("demo-tenant-{email}")).await?;
        let lease = json!({"unit_id": unit(unit_number)?, "start_date": day(-60), "end_date": day(305),
            "rent_amount": rent, "deposit": rent});
        let uri = format!("{tenants_uri}/{tenant}/lease");
        created(app, &token, &uri, lease, &format!("demo-lease-{email}")).await
    };
    let wei = renter("Wei Chen", "wei.chen@example.com", "+15550127", "B201", 1850).await?;
    let priya = renter("Priya Patel", "priya.patel@example.com", "+15550128", "A102", 1800).await?;

    rent(app, &token, john["id"].as_str().unwrap_or_default(), 1450.0, -20, 0.0).await?;
    rent(app, &token, &wei, 1850.0, -10, 500.0).await?;
    rent(app, &token, shared_lease["id"].as_str().unwrap_or_default(), 2400.0, 5, 1000.0).await?;
    rent(app, &token, &priya, 1800.0, -25, 2000.0).await?;
    println!("created financial demo: 2 overdue renters, 1 partly paid lease, 1 in credit");
    Ok(())
}
