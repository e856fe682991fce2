//! ETags carry the resource `version`; `If-Match` makes writes conditional on it.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The strong ETag for a version: `"<version>"`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// What `If-Match` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`: last writer wins, but each write is still atomic.
    None,
    /// `If-Match: *`: the resource must exist.
    Exists,
    /// `If-Match: "3", "4"`: the current version must be one of these.
    Versions(Vec<u64>),
}

impl Precondition {
    /// Whether the stored version satisfies the precondition.
    pub fn allows(&self, current: u64) -> bool {
        match self {
            Self::None | Self::Exists => true,
            Self::Versions(versions) => versions.contains(&current),
        }
    }
}

/// The parsed `If-Match` header; a malformed one is a 400.
#[derive(Debug, Clone)]
pub struct IfMatch(pub Precondition);

fn parse(raw: &str) -> Option<Precondition> {
    let raw = raw.trim();
    if raw == "*" {
        return Some(Precondition::Exists);
    }
    let versions = raw
        .split(',')
        .map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag.strip_prefix('"')?.strip_suffix('"')?.parse::<u64>().ok()
        })
        .collect::<Option<Vec<_>>>()?;
    (!versions.is_empty()).then_some(Precondition::Versions(versions))
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(Precondition::None));
        };
        value
            .to_str()
            .ok()
            .and_then(parse)
            .map(Self)
            .ok_or_else(|| ApiError::BadRequest("If-Match must be * or a list of ETags such as \"3\"".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_if_match_forms() {
        assert_eq!(parse("*"), Some(Precondition::Exists));
        assert_eq!(parse("\"3\""), Some(Precondition::Versions(vec![3])));
        assert_eq!(parse("W/\"3\", \"5\""), Some(Precondition::Versions(vec![3, 5])));
        assert_eq!(parse("3"), None);
        assert_eq!(parse("\"abc\""), None);
        assert!(Precondition::Versions(vec![3]).allows(3));
        assert!(!Precondition::Versions(vec![3]).allows(4));
    }
}
