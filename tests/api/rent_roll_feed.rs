//! The rent-roll pull feed `GET /api/v1/rent-roll/feed`: the RentSync guide's nested and
//! flat payloads and the MITS 4.1 ILS XML feed, paged by property, organization-isolated,
//! behind `read:properties`.

use doorstep_tests::{TestApp, app, claims, new_org};
use http::{Method, StatusCode};
use rent_roll_sync::mits::read::{Node, parse};
use serde_json::{Value, json};

const FEED: &str = "/api/v1/rent-roll/feed";

/// An organization with three active properties of two listed units each (and one
/// unlisted unit in the first), and another organization with a property of its own.
struct Portfolio {
    app: TestApp,
    org: String,
    token: String,
    /// Property ids in creation order, each with its listed unit ids.
    properties: Vec<(String, Vec<String>)>,
    foreign_property: String,
}

async fn portfolio() -> Portfolio {
    let app = app().await;
    let org = new_org();
    let token = app.token(&org, &["OrganizationOwner"]);
    let mut properties = Vec::new();
    for (p, name) in ["Sunset", "Harbour", "Maple"].into_iter().enumerate() {
        let property = app.create_property(&token, name).await["id"].as_str().unwrap().to_owned();
        let mut units = Vec::new();
        for u in 1..=2 {
            let body = json!({"unit_number": format!("{}0{u}", p + 1), "base_rent": 1000 + 100 * u, "bedrooms": u,
                "bathrooms": 1, "sqft": 500 + 100 * u, "floorplan": format!("{u}BR")});
            let created = app.post(&format!("/api/v1/properties/{property}/units"), &token, &body).await;
            assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
            units.push(created.body["data"]["id"].as_str().unwrap().to_owned());
        }
        properties.push((property, units));
    }
    let first = &properties[0].0;
    let unlisted = json!({"unit_number": "199", "active": false});
    assert_eq!(
        app.post(&format!("/api/v1/properties/{first}/units"), &token, &unlisted).await.status,
        StatusCode::CREATED
    );

    let other_org = new_org();
    let other = app.token(&other_org, &["OrganizationOwner"]);
    let foreign_property = app.create_property(&other, "Elsewhere").await["id"].as_str().unwrap().to_owned();
    let body = json!({"unit_number": "foreign-unit-9", "base_rent": 999});
    app.post(&format!("/api/v1/properties/{foreign_property}/units"), &other, &body).await;
    Portfolio { app, org, token, properties, foreign_property }
}

impl Portfolio {
    fn all_units(&self) -> Vec<String> {
        let mut units: Vec<String> = self.properties.iter().flat_map(|(_, u)| u.clone()).collect();
        units.sort();
        units
    }

    /// Every page of a JSON format, following `meta.pagination.next_cursor`.
    async fn json_pages(&self, format: &str, page_size: usize) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut uri = format!("{FEED}?format={format}&page_size={page_size}");
        loop {
            let page = self.app.get(&uri, &self.token).await;
            assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
            let next = page.body["meta"]["pagination"]["next_cursor"].as_str().map(str::to_owned);
            pages.push(page.body["data"].clone());
            match next {
                Some(cursor) => uri = format!("{FEED}?format={format}&page_size={page_size}&cursor={cursor}"),
                None => return pages,
            }
        }
    }
}

fn ids(units: &Value) -> Vec<String> {
    units.as_array().unwrap().iter().map(|u| u["unit_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_nested_feed_pages_by_property_with_the_guides_fields() {
    let p = portfolio().await;

    let pages = p.json_pages("nested", 2).await;

    assert_eq!(pages.len(), 2);
    let projects: Vec<&Value> = pages.iter().flat_map(|page| page["projects"].as_array().unwrap()).collect();
    let property_ids: Vec<&str> = projects.iter().map(|p| p["property"]["project_id"].as_str().unwrap()).collect();
    let expected: Vec<&str> = p.properties.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(property_ids, expected, "every property once, in creation order");
    assert_eq!(pages[0]["projects"].as_array().unwrap().len(), 2);
    assert_eq!(pages[0]["sync_metadata"]["source"], "doorstep");
    let first = projects[0];
    assert_eq!(first["property"]["project_name"], "Sunset");
    assert_eq!(ids(&first["units"]), p.properties[0].1, "the unlisted unit is left out");
    assert_eq!(
        first["units"][0],
        json!({"unit_id": p.properties[0].1[0], "unit_code": "101", "status_name": "Available", "is_available": true, "base_rent": 1100.0})
    );
    assert!(first.get("removed_units").is_none());
}

#[tokio::test]
async fn the_flat_feed_has_one_row_per_listed_unit_across_pages() {
    let p = portfolio().await;

    let pages = p.json_pages("flat", 1).await;

    assert_eq!(pages.len(), 3);
    let mut rows: Vec<String> = pages.iter().flat_map(|page| ids(&page["units"])).collect();
    rows.sort();
    assert_eq!(rows, p.all_units());
    let row = &pages[1]["units"][1];
    assert_eq!(row["property_id"], p.properties[1].0.as_str());
    assert_eq!(
        row.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "base_rent",
            "bathrooms",
            "bedrooms",
            "is_available",
            "property_id",
            "status_id",
            "status_name",
            "unit_code",
            "unit_id"
        ]
    );
    assert_eq!(row["bedrooms"], json!(2.0));
}

#[tokio::test]
async fn the_mits_feed_parses_back_with_its_elements_and_links_the_next_page() {
    let p = portfolio().await;
    let mut documents: Vec<Node> = Vec::new();
    let mut uri = format!("{FEED}?format=mits&page_size=2");
    loop {
        let page = p.app.get(&uri, &p.token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.header("content-type").unwrap().starts_with("application/xml"));
        documents.push(parse(page.text.as_bytes()).unwrap());
        match page.header("link") {
            Some(link) => {
                let target = link.trim_start_matches('<').split('>').next().unwrap();
                assert!(target.starts_with("/api/v1/rent-roll/feed?format=mits&"), "{link}");
                uri = target.to_owned();
            }
            None => break,
        }
    }

    assert_eq!(documents.len(), 2);
    assert!(documents.iter().all(|d| d.name == "PhysicalProperty"));
    let properties: Vec<&Node> = documents.iter().flat_map(|d| d.all("Property")).collect();
    let property_ids: Vec<&str> =
        properties.iter().map(|p| p.at("PropertyID/Identification").unwrap().attr("IDValue").unwrap()).collect();
    let expected: Vec<&str> = p.properties.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(property_ids, expected);

    let sunset = properties[0];
    assert_eq!(sunset.at("PropertyID/MarketingName").unwrap().text, "Sunset");
    assert!(sunset.at("ILS_Identification").is_some());
    let floorplans: Vec<&str> = sunset.all("Floorplan").iter().map(|f| f.at("Name").unwrap().text.as_str()).collect();
    assert_eq!(floorplans, ["1BR", "2BR"]);
    let units = sunset.all("ILS_Unit");
    assert_eq!(units.len(), 2, "the unlisted unit is left out");
    let unit = units[1].at("Units/Unit").unwrap();
    assert_eq!(unit.at("Identification").unwrap().attr("IDValue"), Some(p.properties[0].1[1].as_str()));
    assert_eq!(unit.at("UnitBedrooms").unwrap().text, "2");
    assert_eq!(unit.at("UnitBathrooms").unwrap().text, "1");
    assert_eq!(unit.at("MinSquareFeet").unwrap().text, "700");
    assert_eq!(unit.at("MaxSquareFeet").unwrap().text, "700");
    assert_eq!(unit.at("UnitRent").unwrap().text, "1200.00");
    assert_eq!(unit.at("MarketRent").unwrap().text, "1200.00");
    assert_eq!(units[1].at("Availability/VacancyClass").unwrap().text, "Unoccupied");
    assert!(units[1].at("Availability/MadeReadyDate").is_some());
}

#[tokio::test]
async fn the_feed_needs_read_properties_and_shows_only_the_callers_organization() {
    let p = portfolio().await;
    let config = &p.app.services.config;

    let mut scoped = claims(config, &p.org, &["OrganizationOwner"]);
    scoped.scope = Some("read:properties".into());
    scoped.client_id = Some("app_feed".into());
    let allowed = p.app.get(&format!("{FEED}?format=flat"), &p.app.sign(&scoped)).await;
    assert_eq!(allowed.status, StatusCode::OK, "{:?}", allowed.body);

    let mut unscoped = claims(config, &p.org, &["OrganizationOwner"]);
    unscoped.scope = Some("read:renters".into());
    unscoped.client_id = Some("app_feed".into());
    for format in ["nested", "flat", "mits"] {
        let denied = p.app.get(&format!("{FEED}?format={format}"), &p.app.sign(&unscoped)).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{format}");
        assert_eq!(denied.error_code(), "INSUFFICIENT_PERMISSIONS");
    }
    let tenant = p.app.token(&p.org, &["Tenant"]);
    assert_eq!(p.app.get(&format!("{FEED}?format=flat"), &tenant).await.status, StatusCode::FORBIDDEN);
    let anonymous = p.app.call(Method::GET, &format!("{FEED}?format=flat"), None, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // An API key of the organization with property:read and unit:read reads it too.
    let created = p
        .app
        .post(
            "/api/v1/identity/api-keys",
            &p.token,
            &json!({"name": "Listings", "permissions": ["property:read", "unit:read"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["data"]["key"].as_str().unwrap();
    let keyed = p.app.call(Method::GET, &format!("{FEED}?format=mits"), None, None, &[("x-api-key", key)]).await;
    assert_eq!(keyed.status, StatusCode::OK, "{}", keyed.text);
    assert!(!keyed.text.contains(&p.foreign_property), "another organization's property never appears");
    let everything = p.json_pages("nested", 100).await;
    let text = serde_json::to_string(&everything).unwrap();
    assert!(!text.contains(&p.foreign_property));
    assert!(!text.contains("foreign-unit-9"));

    // Another organization's cursor, a bad format or page size: 400.
    let other = p.app.token(&new_org(), &["OrganizationOwner"]);
    let page = p.app.get(&format!("{FEED}?format=flat&page_size=1"), &p.token).await;
    let cursor = page.body["meta"]["pagination"]["next_cursor"].as_str().unwrap();
    let foreign = p.app.get(&format!("{FEED}?format=flat&page_size=1&cursor={cursor}"), &other).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    let crossed = p.app.get(&format!("{FEED}?format=nested&page_size=1&cursor={cursor}"), &p.token).await;
    assert_eq!(crossed.status, StatusCode::BAD_REQUEST, "a cursor is bound to its format");
    for query in ["format=csv", "format=flat&page_size=0", "format=flat&page_size=101", "", "format=flat&extra=1"] {
        let bad = p.app.get(&format!("{FEED}?{query}"), &p.token).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}: {:?}", bad.body);
    }
}
