//! Local development helper, run by `make dev`:
//!
//! - `doorstep-dev seed` adds the demo organization's properties (once), then the leasing
//!   demo (`doorstep_tests::demo_leasing`).
//! - `doorstep-dev token [--org demo|other|<org_id>] [--role <Role>]` prints a bearer token.
//!
//! It talks to whatever stack the environment points at (see `.local/dev/env`).

use doorstep_tests::{DEMO_ORG_ID, OTHER_DEMO_ORG_ID, app, claims};
use shared::domain::property::{Property, PropertyInput};
use shared::store::properties::{PropertyOrder, PropertyQuery};
use shared::time_format;

/// Dev tokens outlive the API's 15 minutes so a walkthrough is not interrupted.
const DEV_TOKEN_SECONDS: i64 = 8 * 3600;

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

async fn token(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let mut org = DEMO_ORG_ID.to_owned();
    let mut roles = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match (arg.as_str(), iter.next()) {
            ("--org", Some(value)) => {
                org = match value.as_str() {
                    "demo" => DEMO_ORG_ID.to_owned(),
                    "other" => OTHER_DEMO_ORG_ID.to_owned(),
                    other => other.to_owned(),
                }
            }
            ("--role", Some(value)) => roles.push(value.clone()),
            _ => {
                return Err(
                    format!("unknown argument {arg}; usage: token [--org demo|other|ORG_ID] [--role ROLE]").into()
                );
            }
        }
    }
    if roles.is_empty() {
        roles.push("OrganizationOwner".to_owned());
    }
    let app = app().await;
    let role_refs: Vec<&str> = roles.iter().map(String::as_str).collect();
    let mut claims = claims(&app.services.config, &org, &role_refs);
    claims.email = Some("owner@demo.doorstep.local".into());
    claims.exp = claims.iat + DEV_TOKEN_SECONDS;
    println!("{}", app.sign(&claims));
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("seed") => {
            async {
                seed().await?;
                doorstep_tests::demo_leasing::seed(&app().await).await
            }
            .await
        }
        Some("token") => token(&args[1..]).await,
        _ => Err("usage: doorstep-dev seed | token [--org demo|other|ORG_ID] [--role ROLE]".into()),
    };
    if let Err(err) = result {
        eprintln!("doorstep-dev: {err}");
        std::process::exit(1);
    }
}
