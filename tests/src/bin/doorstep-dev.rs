//! Local development helper, run by `make dev`:
//!
//! - `doorstep-dev seed` adds the demo organizations' users (one per role, fixed
//!   passwords, see README), the demo properties, and the leasing demo (units, tenants,
//!   leases: `doorstep_tests::demo_leasing`), invoices and payments that leave renters
//!   overdue, partly paid and in credit (`doorstep_tests::demo_financial`), maintenance
//!   requests (`doorstep_tests::demo_maintenance`), and the demo organization's RentSync
//!   settings pointing at the local sandbox (`doorstep_tests::demo_rentsync`). Re-running
//!   it changes nothing.
//!
//! It talks to whatever stack the environment points at (see `.local/dev/env`).
//! Sign in as a demo user with `POST /api/v1/identity/login` to get a token.

use doorstep_tests::{DEMO_ORG_ID, OTHER_DEMO_ORG_ID, app};
use identity::provision::{NewAccount, Provisioned, ensure_account};
use properties::requests::PropertyInput;
use shared::auth::Role;
use shared::domain::Plan;
use shared::domain::property::Property;
use shared::store::properties::{PropertyOrder, PropertyQuery};
use shared::time_format;

/// The demo organization's users: one per role, passwords documented in the README.
/// The owner comes first: it creates the organization.
const DEMO_USERS: &[(&str, &str, &str, &str, Role)] = &[
    ("owner@demo.doorstep.dev", "demo-owner-password", "Olivia", "Owner", Role::OrganizationOwner),
    ("manager@demo.doorstep.dev", "demo-manager-password", "Manny", "Manager", Role::PropertyManager),
    ("landlord@demo.doorstep.dev", "demo-landlord-password", "Lena", "Landlord", Role::PropertyOwner),
    ("tenant@demo.doorstep.dev", "demo-tenant-password", "Theo", "Tenant", Role::Tenant),
    ("maintenance@demo.doorstep.dev", "demo-maintenance-password", "Max", "Fixer", Role::MaintenanceStaff),
];

/// The owner of a second organization, to show isolation.
const OTHER_OWNER: (&str, &str) = ("owner@other.doorstep.dev", "demo-other-password");

async fn seed_users(app: &doorstep_tests::TestApp) -> Result<(), Box<dyn std::error::Error>> {
    let state = identity::IdentityState::load(app.services.clone()).await?;
    let mut accounts: Vec<(&str, &str, NewAccount<'_>)> = DEMO_USERS
        .iter()
        .map(|(email, password, first, last, role)| {
            let account = NewAccount {
                email,
                password,
                first_name: first,
                last_name: last,
                roles: std::slice::from_ref(role),
                // The demo Tenant user is the tenant record the leasing demo seeds.
                tenant_profile_id: (*role == Role::Tenant).then_some(doorstep_tests::demo_leasing::DEMO_TENANT_ID),
            };
            (DEMO_ORG_ID, "Doorstep Demo Properties", account)
        })
        .collect();
    let other = NewAccount {
        email: OTHER_OWNER.0,
        password: OTHER_OWNER.1,
        first_name: "Oscar",
        last_name: "Other",
        roles: &[Role::OrganizationOwner],
        tenant_profile_id: None,
    };
    accounts.push((OTHER_DEMO_ORG_ID, "Other Demo Org", other));
    for (org_id, org_name, account) in &accounts {
        let outcome = ensure_account(&state, org_id, org_name, Plan::Premium, account).await?;
        if outcome == Provisioned::Created {
            println!("created user {} in {org_id}", account.email);
        }
    }
    Ok(())
}

const DEMO_PROPERTIES: &[&str] = &[
    r#"{"name":"Sunset Apartments","type":"residential","currency":"CAD","total_value":4250000,
        "address":{"street":"123 Main St","city":"Vancouver","state":"BC","postal_code":"V6B 1A1","country":"CA"}}"#,
    r#"{"name":"Harbor View Lofts","type":"mixed","currency":"USD","total_value":1200000,
        "address":{"street":"500 Embarcadero","city":"San Francisco","state":"CA","postal_code":"94105","country":"US"}}"#,
    r#"{"name":"Maple Court Offices","type":"commercial","currency":"USD","total_value":875000.50,
        "address":{"street":"42 Maple Ave","city":"Austin","state":"TX","postal_code":"73301","country":"US"}}"#,
];

async fn seed() -> Result<(), Box<dyn std::error::Error>> {
    let app = app().await;
    seed_users(&app).await?;
    let repo = app.services.store.properties();
    let query = PropertyQuery {
        org_id: DEMO_ORG_ID.to_owned(),
        order: PropertyOrder::CreatedAt { descending: false },
        status: None,
        property_type: None,
        created_after: None,
        created_before: None,
    };
    if !repo.list(&query, None, 1).await?.items.is_empty() {
        println!("demo data already present in {DEMO_ORG_ID}");
        return Ok(());
    }
    for raw in DEMO_PROPERTIES {
        let input: PropertyInput = serde_json::from_str(raw)?;
        let fields = input.validate().map_err(|e| e.to_string())?;
        let property = Property::new(DEMO_ORG_ID, fields, time_format::now());
        repo.create(&property, None).await?;
        println!("created {} ({})", property.id, property.fields.name);
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("seed") => {
            async {
                seed().await?;
                let app = app().await;
                doorstep_tests::demo_leasing::seed(&app).await?;
                doorstep_tests::demo_financial::seed(&app).await?;
                doorstep_tests::demo_maintenance::seed(&app).await?;
                doorstep_tests::demo_rentsync::seed(&app).await
            }
            .await
        }
        _ => Err("usage: doorstep-dev seed".into()),
    };
    if let Err(err) = result {
        eprintln!("doorstep-dev: {err}");
        std::process::exit(1);
    }
}
