//! Demo maintenance requests for `make dev`: the demo tenant's leaking tap (reported with
//! their own token, so it is theirs) and an emergency in the shared flat. Everything goes
//! through the HTTP routes.

use http::StatusCode;
use serde_json::json;

use crate::demo_leasing::DEMO_TENANT_ID;
use crate::{DEMO_ORG_ID, TestApp, claims};

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

const REQUESTS: &str = "/api/v1/operations/maintenance-requests";

/// Seeds the maintenance demo into the demo organization's first property, once (any
/// existing request marks it).
pub async fn seed(app: &TestApp) -> DemoResult<()> {
    let token = app.token(DEMO_ORG_ID, &["OrganizationOwner"]);
    let existing = app.get(&format!("{REQUESTS}?page_size=1"), &token).await;
    if existing.body["data"].as_array().is_some_and(|items| !items.is_empty()) {
        println!("maintenance demo data already present in {DEMO_ORG_ID}");
        return Ok(());
    }
    let leases = app.get(&format!("/api/v1/leases?tenant_id={DEMO_TENANT_ID}&status=Current"), &token).await;
    let lease = &leases.body["data"][0];
    let property = lease["property_id"].as_str().ok_or("the leasing demo has no current lease for the demo tenant")?;
    let mut tenant_claims = claims(&app.services.config, DEMO_ORG_ID, &["Tenant"]);
    tenant_claims.tenant_profile_id = Some(DEMO_TENANT_ID.to_owned());
    let tenant = app.sign(&tenant_claims);
    let reported = [
        (
            &tenant,
            json!({"property_id": property, "title": "Kitchen tap drips", "description": "Drips all night; a bucket is under it.",
                "priority": "medium", "category": "plumbing", "permission_to_enter": true, "preferred_times": ["weekday mornings"]}),
        ),
        (
            &token,
            json!({"property_id": property, "title": "No heat in the hallway", "description": "The boiler shows fault E4.",
                "priority": "emergency", "category": "hvac"}),
        ),
    ];
    for (who, body) in reported {
        let response = app.post(REQUESTS, who, &body).await;
        if response.status != StatusCode::CREATED {
            return Err(format!("POST {REQUESTS}: {} {}", response.status, response.text).into());
        }
    }
    println!("created maintenance demo: 2 requests in property {property}");
    Ok(())
}
