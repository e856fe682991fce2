//! Demo data for `make dev`: a property with several units, tenants, and past, current
//! and future leases. Everything but the fixed demo tenant goes through the HTTP routes,
//! so the unit counter, occupancy and booking rules hold exactly as in production.

use http::StatusCode;
use serde_json::{Value, json};
use shared::domain::ids::{PropertyId, TenantId};
use shared::domain::tenant::Tenant;
use shared::store::tenants::TenantCreated;
use shared::time_format;
use tenants::requests::TenantInput;
use time::Duration;

use crate::{DEMO_ORG_ID, TestApp};

/// The demo tenant's fixed id: the demo `Tenant` user carries it as `tenant_profile_id`.
pub const DEMO_TENANT_ID: &str = "ten_01JD3M00000000000000000001";

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

fn day(offset: i64) -> String {
    shared::domain::calendar::format_date(time::OffsetDateTime::now_utc().date() + Duration::days(offset))
}

async fn created(app: &TestApp, token: &str, uri: &str, body: Value) -> DemoResult<String> {
    let response = app.post(uri, token, &body).await;
    if response.status != StatusCode::CREATED {
        return Err(format!("POST {uri}: {} {}", response.status, response.text).into());
    }
    Ok(response.body["data"]["id"].as_str().unwrap_or_default().to_owned())
}

/// Seeds the leasing demo into the demo organization, once (the fixed demo tenant marks it).
pub async fn seed(app: &TestApp) -> DemoResult<()> {
    let demo_id = TenantId::parse(DEMO_TENANT_ID).ok_or("the demo tenant id is not a tenant id")?;
    if app.services.store.tenants().get(DEMO_ORG_ID, &demo_id).await?.is_some() {
        println!("leasing demo data already present in {DEMO_ORG_ID}");
        return Ok(());
    }
    let token = app.token(DEMO_ORG_ID, &["OrganizationOwner"]);
    let property = created(app, &token, "/api/v1/properties", json!({
        "name": "Riverside Flats", "type": "residential", "currency": "USD", "total_value": 3400000,
        "address": {"street": "123 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"}
    }))
    .await?;
    let units_uri = format!("/api/v1/properties/{property}/units");
    let mut units = Vec::new();
    for (number, beds, sqft, rent) in [
        ("A101", 1.0, 640, 1450),
        ("A102", 2.0, 850, 1800),
        ("B201", 2.0, 900, 1850),
        ("B202", 3.0, 1200, 2400),
        ("C301", 1.5, 720, 1600),
        ("C302", 0.0, 480, 1200),
    ] {
        let body = json!({"unit_number": number, "bedrooms": beds, "bathrooms": 1, "sqft": sqft, "base_rent": rent,
            "type": format!("{beds} Bed"), "dwelling_type": "Apartment", "owner_id": "5001",
            "possession_start": "2024-01-01", "possession_end": "2030-12-31"});
        units.push(created(app, &token, &units_uri, body).await?);
    }

    // The demo tenant has a fixed id, so it is written through the repository.
    let fields = TenantInput {
        name: "John Smith".into(),
        email: "john.smith@example.com".into(),
        phone: Some("+15550123".into()),
        user_id: None,
    }
    .validate()
    .map_err(|e| e.to_string())?;
    let property_id = PropertyId::parse(&property).ok_or("the demo property id is not a property id")?;
    let demo = Tenant::with_id(demo_id, DEMO_ORG_ID, &property_id, fields, time_format::now());
    if app.services.store.tenants().create(&demo, None).await? != TenantCreated::Created {
        return Err("could not create the demo tenant".into());
    }
    let tenants_uri = format!("/api/v1/properties/{property}/tenants");
    let jane = created(
        app,
        &token,
        &tenants_uri,
        json!({"name": "Jane Doe", "email": "jane.doe@example.com", "phone": "+15550124"}),
    )
    .await?;
    let bob = created(
        app,
        &token,
        &tenants_uri,
        json!({"name": "Bob Johnson", "email": "bob.johnson@example.com", "phone": "+15550125"}),
    )
    .await?;
    let ana = created(
        app,
        &token,
        &tenants_uri,
        json!({"name": "Ana Lopez", "email": "ana.lopez@example.com", "phone": "+15550126"}),
    )
    .await?;

    let lease = |tenant: &str| format!("/api/v1/properties/{property}/tenants/{tenant}/lease");
    let terms = |unit: &str, start: String, end: String, rent: u32| json!({"unit_id": unit, "start_date": start, "end_date": end, "rent_amount": rent, "deposit": rent});
    // Past, then current for John on A101; Jane and Bob share B202; Ana moves in next month.
    created(app, &token, &lease(DEMO_TENANT_ID), terms(&units[0], "2024-01-01".into(), day(-200), 1400)).await?;
    let mut current = terms(&units[0], day(-199), day(166), 1450);
    current["move_in"] = json!(format!("{}T10:00:00Z", day(-199)));
    created(app, &token, &lease(DEMO_TENANT_ID), current).await?;
    let mut shared_lease = terms(&units[3], day(-90), day(275), 2400);
    shared_lease["co_tenant_ids"] = json!([bob]);
    created(app, &token, &lease(&jane), shared_lease).await?;
    created(app, &token, &lease(&ana), terms(&units[4], day(30), day(395), 1600)).await?;
    println!("created leasing demo: property {property}, {} units, demo tenant {DEMO_TENANT_ID}", units.len());
    Ok(())
}
