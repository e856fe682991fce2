//! One route table. A route is served through four declarations that must agree on every
//! method, path and function:
//!
//! - the OpenAPI operations each function's router is built from (the function that
//!   documents an operation is the one that serves it, and its router answers 405 to
//!   every other method on that path);
//! - template.yaml's HttpApi events: what API Gateway routes to which function;
//! - `[workspace.metadata.lambda.watch.router]` in Cargo.toml: what `cargo lambda watch`
//!   routes locally (an entry without methods sends every method to its function);
//! - the API Gateway events in `events/<function>/`.
//!
//! Everything is read from those files, so a new function is checked as soon as it
//! appears in them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Literal(String),
    Param(String),
    /// API Gateway's `{proxy+}`, `cargo lambda watch`'s `{*rest}`: one or more segments.
    Greedy,
}

/// A path pattern, in any of the three spellings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pattern(Vec<Segment>);

impl Pattern {
    fn parse(path: &str) -> Self {
        let segments = path.trim_start_matches('/').split('/').map(|segment| {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.ends_with('+') || name.starts_with('*') => Segment::Greedy,
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(segment.to_owned()),
            }
        });
        Self(segments.collect())
    }

    fn is_greedy(&self) -> bool {
        self.0.last() == Some(&Segment::Greedy)
    }

    /// Whether requests to `documented` (a pattern without a greedy tail) reach this route.
    fn covers(&self, documented: &Pattern) -> bool {
        match self.0.split_last() {
            Some((Segment::Greedy, prefix)) => documented.0.len() > prefix.len() && documented.0.starts_with(prefix),
            _ => self == documented,
        }
    }

    fn params(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.0 {
            match segment {
                Segment::Literal(s) => write!(f, "/{s}")?,
                Segment::Param(name) => write!(f, "/{{{name}}}")?,
                Segment::Greedy => write!(f, "/{{proxy+}}")?,
            }
        }
        Ok(())
    }
}

/// One method (`None`: any method) on one path, served by one function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: Option<String>,
    pattern: Pattern,
    function: String,
}

impl Route {
    fn new(method: &str, path: &str, function: &str) -> Self {
        let method = method.to_ascii_uppercase();
        Self {
            method: (method != "ANY").then_some(method),
            pattern: Pattern::parse(path),
            function: function.to_owned(),
        }
    }

    /// API Gateway's route key: `GET /api/v1/leases`, `ANY /api/v1/identity/{proxy+}`.
    fn key(&self) -> String {
        format!("{} {}", self.method.as_deref().unwrap_or("ANY"), self.pattern)
    }

    fn serves(&self, operation: &Route) -> bool {
        self.method.as_ref().is_none_or(|m| Some(m) == operation.method.as_ref())
            && self.pattern.covers(&operation.pattern)
    }
}

/// An API Gateway event from `events/<function>/`.
#[derive(Debug, Clone)]
struct Fixture {
    file: String,
    function: String,
    route_key: String,
    context_route_key: String,
    raw_path: String,
    path_parameters: BTreeSet<String>,
}

/// Every source of the route table, as read from the repository.
struct Sources {
    documented: Vec<Route>,
    template: Vec<Route>,
    /// Path pattern → per-method functions (`None`: every method).
    watch: BTreeMap<Pattern, Vec<(Option<String>, String)>>,
    fixtures: Vec<Fixture>,
    /// Package names of the crates under `functions/`.
    packages: BTreeSet<String>,
}

fn read(relative: &str) -> String {
    let path = format!("{WORKSPACE}/{relative}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn documented_operations() -> Vec<Route> {
    let mut routes = Vec::new();
    for (function, document) in doorstep_tests::function_documents() {
        let document = serde_json::to_value(&document).expect("OpenAPI serializes");
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for method in METHODS.into_iter().filter(|m| item.get(*m).is_some()) {
                routes.push(Route::new(method, path, function));
            }
        }
    }
    routes
}

fn template_routes() -> Vec<Route> {
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read("template.yaml")).expect("template.yaml parses");
    let mut routes = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().expect("Resources").iter() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let events = resource["Properties"]["Events"].as_mapping().into_iter().flatten();
        for (event, spec) in events.filter(|(_, spec)| spec["Type"].as_str() == Some("HttpApi")) {
            let function = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{name:?} serves HTTP but names no BuildProperties.Binary"));
            let property = |key: &str| {
                spec["Properties"][key].as_str().unwrap_or_else(|| panic!("{name:?} event {event:?} has no {key}"))
            };
            routes.push(Route::new(property("Method"), property("Path"), function));
        }
    }
    routes
}

fn watch_router() -> BTreeMap<Pattern, Vec<(Option<String>, String)>> {
    let mut router = BTreeMap::new();
    for (path, functions) in doorstep_tests::gateway::watch_router() {
        let functions = functions.into_iter().map(|(method, f)| (method.map(|m| m.as_str().to_owned()), f)).collect();
        let previous = router.insert(Pattern::parse(&path), functions);
        assert!(previous.is_none(), "{path} is in the watch router twice under different parameter spellings");
    }
    router
}

fn fixtures() -> Vec<Fixture> {
    let mut fixtures = Vec::new();
    for dir in std::fs::read_dir(format!("{WORKSPACE}/events")).expect("events/").flatten() {
        let function = dir.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(dir.path()).expect("events/<function>/").flatten() {
            let name = format!("events/{function}/{}", file.file_name().to_string_lossy());
            let event: Value = serde_json::from_str(&read(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Only API Gateway HTTP events name a route.
            let Some(route_key) = event["routeKey"].as_str() else { continue };
            fixtures.push(Fixture {
                file: name.clone(),
                function: function.clone(),
                route_key: route_key.to_owned(),
                context_route_key: event["requestContext"]["routeKey"].as_str().unwrap_or_default().to_owned(),
                raw_path: event["rawPath"].as_str().unwrap_or_default().to_owned(),
                path_parameters: event["pathParameters"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
                    .collect(),
            });
        }
    }
    fixtures
}

fn function_packages() -> BTreeSet<String> {
    let mut packages = BTreeSet::new();
    for dir in std::fs::read_dir(format!("{WORKSPACE}/functions")).expect("functions/").flatten() {
        let manifest = dir.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let manifest: toml::Table = toml::from_str(&text).expect("a function's Cargo.toml parses");
        packages.insert(manifest["package"]["name"].as_str().expect("package name").to_owned());
    }
    packages
}

impl Sources {
    fn load() -> Self {
        Self {
            documented: documented_operations(),
            template: template_routes(),
            watch: watch_router(),
            fixtures: fixtures(),
            packages: function_packages(),
        }
    }

    /// The route API Gateway picks for a documented operation: an exact path before a
    /// greedy one, an exact method before `ANY`.
    fn template_route_for(&self, operation: &Route) -> Option<&Route> {
        self.template
            .iter()
            .filter(|route| route.serves(operation))
            .min_by_key(|route| (route.pattern.is_greedy(), route.method.is_none()))
    }

    /// Every way the sources disagree, one line each.
    fn disagreements(&self) -> Vec<String> {
        let mut problems = Vec::new();
        self.check_functions(&mut problems);
        self.check_parameter_names(&mut problems);
        self.check_template(&mut problems);
        self.check_watch_router(&mut problems);
        self.check_fixtures(&mut problems);
        problems
    }

    fn check_functions(&self, problems: &mut Vec<String>) {
        let documented: BTreeSet<&str> = self.documented.iter().map(|r| r.function.as_str()).collect();
        let template: BTreeSet<&str> = self.template.iter().map(|r| r.function.as_str()).collect();
        let watch: BTreeSet<&str> = self.watch.values().flatten().map(|(_, f)| f.as_str()).collect();
        for function in documented.union(&template).chain(&watch) {
            if !self.packages.contains(*function) {
                problems.push(format!("{function} is routed but is no package under functions/"));
            }
            if !documented.contains(function) {
                problems.push(format!(
                    "{function} is routed but documents no operation (is it in doorstep_tests::function_documents?)"
                ));
            }
        }
    }

    fn check_parameter_names(&self, problems: &mut Vec<String>) {
        let patterns = self.documented.iter().chain(&self.template).map(|r| &r.pattern).chain(self.watch.keys());
        let mut bad = BTreeSet::new();
        for pattern in patterns {
            for name in pattern.params() {
                let snake = name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if !snake || !name.ends_with("_id") {
                    bad.insert(format!("{pattern}: path parameter {{{name}}} is not named {{<resource>_id}}"));
                }
            }
        }
        problems.extend(bad);
    }

    fn check_template(&self, problems: &mut Vec<String>) {
        for operation in &self.documented {
            match self.template_route_for(operation) {
                None => {
                    problems.push(format!("{} ({}) has no route in template.yaml", operation.key(), operation.function))
                }
                Some(route) if route.function != operation.function => problems.push(format!(
                    "{} is documented by {} but template.yaml's {} sends it to {}",
                    operation.key(),
                    operation.function,
                    route.key(),
                    route.function
                )),
                Some(_) => {}
            }
        }
        let mut seen = BTreeSet::new();
        for route in &self.template {
            if !seen.insert(route.key()) {
                problems.push(format!("template.yaml declares {} twice", route.key()));
            }
            let serves_any =
                self.documented.iter().any(|op| self.template_route_for(op).is_some_and(|chosen| chosen == route));
            if !serves_any {
                problems.push(format!(
                    "template.yaml routes {} to {}, which documents no such operation",
                    route.key(),
                    route.function
                ));
            }
        }
    }

    fn check_watch_router(&self, problems: &mut Vec<String>) {
        let mut template: BTreeMap<&Pattern, Vec<&Route>> = BTreeMap::new();
        for route in &self.template {
            template.entry(&route.pattern).or_default().push(route);
        }
        for pattern in template.keys().copied().chain(self.watch.keys()).collect::<BTreeSet<_>>() {
            let (Some(routes), Some(watch)) = (template.get(pattern), self.watch.get(pattern)) else {
                let (present, missing) = if template.contains_key(pattern) {
                    ("template.yaml", "the watch router")
                } else {
                    ("the watch router", "template.yaml")
                };
                problems.push(format!("{pattern} is in {present} but not in {missing}"));
                continue;
            };
            match watch.as_slice() {
                [(None, function)] => {
                    for route in routes.iter().filter(|r| &r.function != function) {
                        problems.push(format!(
                            "template.yaml sends {} to {}, the watch router sends {pattern} to {function}",
                            route.key(),
                            route.function
                        ));
                    }
                }
                entries => {
                    let watch: BTreeSet<(Option<&str>, &str)> =
                        entries.iter().map(|(m, f)| (m.as_deref(), f.as_str())).collect();
                    let declared: BTreeSet<(Option<&str>, &str)> =
                        routes.iter().map(|r| (r.method.as_deref(), r.function.as_str())).collect();
                    if watch != declared {
                        problems.push(format!(
                            "{pattern}: the watch router's methods {watch:?} differ from template.yaml's {declared:?}"
                        ));
                    }
                }
            }
        }
    }

    fn check_fixtures(&self, problems: &mut Vec<String>) {
        for fixture in &self.fixtures {
            let file = &fixture.file;
            if fixture.context_route_key != fixture.route_key {
                problems.push(format!("{file}: requestContext.routeKey differs from routeKey"));
            }
            let Some(route) = self.template.iter().find(|r| r.key() == fixture.route_key) else {
                problems.push(format!("{file}: route key {} is not a route in template.yaml", fixture.route_key));
                continue;
            };
            if route.function != fixture.function {
                problems.push(format!(
                    "{file}: {} is served by {}, not {}",
                    fixture.route_key, route.function, fixture.function
                ));
            }
            let mut expected: BTreeSet<String> = route.pattern.params().map(str::to_owned).collect();
            if route.pattern.is_greedy() {
                expected.insert("proxy".to_owned());
            }
            if fixture.path_parameters != expected {
                problems.push(format!(
                    "{file}: pathParameters {:?} differ from the route's {expected:?}",
                    fixture.path_parameters
                ));
            }
            let raw = Pattern::parse(&fixture.raw_path);
            let literal_match = route.pattern.0.len() <= raw.0.len()
                && route.pattern.0.iter().zip(&raw.0).all(|(p, s)| !matches!(p, Segment::Literal(_)) || p == s)
                && (route.pattern.is_greedy() || route.pattern.0.len() == raw.0.len());
            if !literal_match {
                problems.push(format!("{file}: rawPath {} does not match {}", fixture.raw_path, route.pattern));
            }
        }
    }
}

#[test]
fn template_watch_router_openapi_and_fixtures_agree_on_every_route() {
    let sources = Sources::load();
    assert!(!sources.documented.is_empty() && !sources.template.is_empty() && !sources.fixtures.is_empty());
    let problems = sources.disagreements();
    assert!(problems.is_empty(), "the route table disagrees with itself:\n  {}", problems.join("\n  "));
}

#[test]
fn a_route_missing_from_one_source_is_reported() {
    let mut sources = Sources::load();
    let removed = sources.template.iter().position(|r| r.key() == "DELETE /api/v1/properties/{property_id}").unwrap();
    sources.template.remove(removed);
    assert_eq!(
        sources.disagreements(),
        [
            "DELETE /api/v1/properties/{property_id} (properties) has no route in template.yaml",
            "events/properties/delete.json: route key DELETE /api/v1/properties/{property_id} is not a route in template.yaml",
        ]
    );

    let mut sources = Sources::load();
    sources.watch.remove(&Pattern::parse("/api/v1/leases/{lease_id}/renew"));
    assert_eq!(
        sources.disagreements(),
        ["/api/v1/leases/{lease_id}/renew is in template.yaml but not in the watch router"]
    );
}

#[test]
fn drifting_parameter_names_and_functions_are_reported() {
    let mut sources = Sources::load();
    let route = sources.template.iter_mut().find(|r| r.key() == "GET /api/ai/properties/{property_id}").unwrap();
    route.pattern = Pattern::parse("/api/ai/properties/{id}");
    let problems = sources.disagreements();
    assert!(problems.contains(&"/api/ai/properties/{id}: path parameter {id} is not named {<resource>_id}".to_owned()));
    assert!(
        problems
            .contains(&"GET /api/ai/properties/{property_id} (properties) has no route in template.yaml".to_owned())
    );

    let mut sources = Sources::load();
    let route = sources.template.iter_mut().find(|r| r.key() == "GET /units").unwrap();
    route.function = "leases".to_owned();
    let problems = sources.disagreements();
    assert!(
        problems.contains(
            &"GET /units is documented by units but template.yaml's GET /units sends it to leases".to_owned()
        )
    );
    assert!(
        problems
            .contains(&"template.yaml sends GET /units to leases, the watch router sends /units to units".to_owned())
    );
}

#[test]
fn the_identity_proxy_covers_exactly_the_operations_under_its_prefix() {
    let mut sources = Sources::load();
    let proxy = Route::new("ANY", "/api/v1/identity/{proxy+}", "identity");
    let under: Vec<&Route> = sources.documented.iter().filter(|op| proxy.serves(op)).collect();
    assert!(under.len() > 10, "the proxy serves the identity API: {under:?}");
    assert!(under.iter().all(|op| op.function == "identity"));
    assert!(
        !proxy.serves(&Route::new("GET", "/api/v1/identity", "identity")),
        "the proxy needs a segment after the prefix"
    );

    // Another function's operation under the prefix would reach identity through the proxy.
    sources.documented.push(Route::new("GET", "/api/v1/identity/events", "leases"));
    let problems = sources.disagreements();
    assert!(problems.contains(
        &"GET /api/v1/identity/events is documented by leases but template.yaml's ANY /api/v1/identity/{proxy+} sends it to identity"
            .to_owned()
    ));
}

#[tokio::test]
async fn each_function_router_answers_exactly_its_documented_methods() {
    let app = doorstep_tests::app().await;
    let token = app.token(&doorstep_tests::new_org(), &["OrganizationOwner"]);
    let mut paths: BTreeMap<(&str, String), BTreeSet<&str>> = BTreeMap::new();
    let documented = documented_operations();
    for op in &documented {
        let uri: Vec<String> = op
            .pattern
            .0
            .iter()
            .map(|s| match s {
                Segment::Literal(s) => s.clone(),
                _ => "x_0000000000".to_owned(),
            })
            .collect();
        let methods = paths.entry((op.function.as_str(), format!("/{}", uri.join("/")))).or_default();
        methods.insert(op.method.as_deref().expect("an operation has a method"));
    }
    for ((function, uri), methods) in paths {
        for method in ["GET", "PUT", "POST", "PATCH", "DELETE"] {
            let request = http::Request::builder()
                .method(method)
                .uri(&uri)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let response = tower::ServiceExt::oneshot(app.gateway.function(function), request).await.unwrap();
            let response = doorstep_tests::TestResponse::read(response).await;
            if methods.contains(method) {
                assert_ne!(response.status, http::StatusCode::METHOD_NOT_ALLOWED, "{method} {uri} is documented");
            } else {
                assert_eq!(response.status, http::StatusCode::METHOD_NOT_ALLOWED, "{method} {uri} is not documented");
                assert_eq!(response.error_code(), "METHOD_NOT_ALLOWED");
            }
        }
    }
}
