//! An in-process stand-in for API Gateway: routes each request to the function that
//! `[workspace.metadata.lambda.watch.router]` in the workspace `Cargo.toml` names, the
//! same table `cargo lambda watch` serves from. A path missing there fails the test.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use http::{Method, Request};

/// The function per method of one path (`None`: any method).
pub type Targets = Vec<(Option<Method>, String)>;

/// One route of the table: a path pattern and the function per method (`None`: any method).
#[derive(Debug, Clone)]
struct Route {
    pattern: Vec<String>,
    functions: Targets,
}

/// The workspace route table and each function's router.
#[derive(Clone)]
pub struct Gateway {
    routes: Vec<Route>,
    functions: HashMap<String, Router>,
}

impl Gateway {
    /// Reads the route table from the workspace manifest.
    pub fn from_workspace(functions: HashMap<String, Router>) -> Self {
        let routes = watch_router()
            .into_iter()
            .map(|(path, functions)| Route {
                pattern: path.trim_matches('/').split('/').map(str::to_owned).collect(),
                functions,
            })
            .collect();
        Self { routes, functions }
    }

    /// The router of the function that serves `method path`, as the route table says.
    pub fn function_for(&self, method: &Method, path: &str) -> Option<(&str, &Router)> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let best = self
            .routes
            .iter()
            .filter_map(|route| specificity(&route.pattern, &segments).map(|score| (score, route)))
            .max_by_key(|(score, _)| score.clone())?
            .1;
        let function =
            best.functions.iter().find(|(m, _)| m.as_ref().is_none_or(|m| m == method)).map(|(_, f)| f.as_str())?;
        let router = self.functions.get(function).unwrap_or_else(|| panic!("no router registered for {function}"));
        Some((function, router))
    }

    /// One function's router by package name, for requests no route of the table matches.
    pub fn function(&self, name: &str) -> Router {
        self.functions.get(name).unwrap_or_else(|| panic!("no router registered for {name}")).clone()
    }

    /// The router for a request; a path outside the table is a test failure.
    pub fn router_for(&self, request: &Request<Body>) -> Router {
        let path = request.uri().path();
        match self.function_for(request.method(), path) {
            Some((_, router)) => router.clone(),
            None => panic!("{} {path} is not in [workspace.metadata.lambda.watch.router]", request.method()),
        }
    }
}

/// `[workspace.metadata.lambda.watch.router]`: each path with its function per method
/// (`None`: every method), as `cargo lambda watch` reads it.
pub fn watch_router() -> Vec<(String, Targets)> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let text = std::fs::read_to_string(manifest).expect("workspace Cargo.toml");
    let value: toml::Table = toml::from_str(&text).expect("workspace Cargo.toml parses");
    let table = value["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().expect("router table");
    table
        .iter()
        .map(|(path, target)| {
            let functions = match target {
                toml::Value::String(function) => vec![(None, function.clone())],
                toml::Value::Array(entries) => entries
                    .iter()
                    .map(|e| {
                        let method = e["method"].as_str().expect("method").parse().expect("HTTP method");
                        (Some(method), e["function"].as_str().expect("function").to_owned())
                    })
                    .collect(),
                other => panic!("unsupported route target for {path}: {other}"),
            };
            (path.clone(), functions)
        })
        .collect()
}

/// How specifically a pattern matches: per segment 2 for a literal, 1 for a `{param}`,
/// 0 for a trailing `{*rest}`. `None` when it does not match.
fn specificity(pattern: &[String], segments: &[&str]) -> Option<Vec<u8>> {
    let mut score = Vec::with_capacity(segments.len());
    for (i, part) in pattern.iter().enumerate() {
        if part.starts_with("{*") {
            return (segments.len() > i).then(|| {
                score.push(0);
                score
            });
        }
        let segment = segments.get(i)?;
        if part.starts_with('{') {
            score.push(1);
        } else if part == segment {
            score.push(2);
        } else {
            return None;
        }
    }
    (pattern.len() == segments.len()).then_some(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> Vec<String> {
        p.trim_matches('/').split('/').map(str::to_owned).collect()
    }

    #[test]
    fn literal_segments_beat_parameters_and_catch_alls() {
        let literal = specificity(&pattern("/a/b/c"), &["a", "b", "c"]).unwrap();
        let param = specificity(&pattern("/a/{x}/c"), &["a", "b", "c"]).unwrap();
        let rest = specificity(&pattern("/a/{*rest}"), &["a", "b", "c"]).unwrap();
        assert!(literal > param && param > rest);
        assert_eq!(specificity(&pattern("/a/{x}"), &["a", "b", "c"]), None);
        assert_eq!(specificity(&pattern("/a/{*rest}"), &["a"]), None);
    }
}
