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
    /// `If-Match: "3", "4"`: the current version must be one of these. Empty when every
    /// tag named is one Doorstep never issues (`"stale-0"`, or any weak `W/"3"`), so that
    /// the precondition is false: a 412, as RFC 9110 asks.
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

/// The parsed `If-Match` header; only a syntactically broken one is a 400.
#[derive(Debug, Clone)]
pub struct IfMatch(pub Precondition);

/// `*` or a list of RFC 9110 entity tags. `If-Match` compares strongly, so a weak tag
/// never matches; a strong tag matches only the version it spells.
fn parse(raw: &str) -> Option<Precondition> {
    let raw = raw.trim();
    if raw == "*" {
        return Some(Precondition::Exists);
    }
    let mut versions = Vec::new();
    // RFC 9110 lists allow empty elements (`"3", , "4"`), but not an empty list.
    let mut tags = raw.split(',').map(str::trim).filter(|tag| !tag.is_empty()).peekable();
    tags.peek()?;
    for tag in tags {
        let (weak, opaque) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        let opaque = opaque.strip_prefix('"')?.strip_suffix('"')?;
        // etagc = %x21 / %x23-7E / obs-text
        if !opaque.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) {
            return None;
        }
        if !weak && let Ok(version) = opaque.parse::<u64>() {
            versions.push(version);
        }
    }
    Some(Precondition::Versions(versions))
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
            .ok_or_else(|| ApiError::BadRequest("If-Match must be * or a list of entity tags such as \"3\"".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_if_match_forms() {
        assert_eq!(parse("*"), Some(Precondition::Exists));
        assert_eq!(parse("\"3\""), Some(Precondition::Versions(vec![3])));
        assert_eq!(parse("\"3\", \"5\""), Some(Precondition::Versions(vec![3, 5])));
        assert_eq!(parse("3"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("\"3"), None);
        assert_eq!(parse("\"a\"b\""), None);
        assert!(Precondition::Versions(vec![3]).allows(3));
        assert!(!Precondition::Versions(vec![3]).allows(4));
    }

    #[test]
    fn well_formed_tags_never_issued_are_a_false_precondition_not_a_bad_request() {
        // Strong comparison: a weak tag never matches, even one spelling a version.
        assert_eq!(parse("W/\"3\", \"5\""), Some(Precondition::Versions(vec![5])));
        assert_eq!(parse("\"stale-0\""), Some(Precondition::Versions(vec![])));
        assert_eq!(parse("W/\"x\""), Some(Precondition::Versions(vec![])));
        assert_eq!(parse("\"\""), Some(Precondition::Versions(vec![])));
        assert!(!Precondition::Versions(vec![]).allows(1));
    }
}
