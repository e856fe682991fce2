//! Redirect URIs: what may be registered, and the redirects the authorization endpoint
//! answers with.

use url::Url;

/// Longest redirect URI accepted at registration.
pub const MAX_REDIRECT_URI_LEN: usize = 2048;

/// Checks a redirect URI for registration: absolute `https` (plain `http` only for the
/// loopback host, for native apps and local development), no fragment (RFC 6749 §3.1.2),
/// no credentials. `Err` says why.
pub fn validate(raw: &str) -> Result<(), &'static str> {
    if raw.len() > MAX_REDIRECT_URI_LEN {
        return Err("must be at most 2048 characters");
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL")?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err("must not contain a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials");
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("must use https (http is allowed only for localhost)"),
        _ => Err("must be an https URL"),
    }
}

/// `redirect_uri` with `params` appended to its query (RFC 6749 §4.1.2), keeping any
/// query it already has.
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_redirect_uris_register() {
        assert!(validate("https://app.example.com/callback").is_ok());
        assert!(validate("https://app.example.com/cb?tenant=1").is_ok());
        assert!(validate("http://localhost:8080/cb").is_ok());
        assert!(validate("http://127.0.0.1/cb").is_ok());
        assert!(validate("http://app.example.com/cb").is_err());
        assert!(validate("https://app.example.com/cb#frag").is_err());
        assert!(validate("https://app.example.com/cb#").is_err());
        assert!(validate("/relative/cb").is_err());
        assert!(validate("javascript:alert(1)").is_err());
        assert!(validate("https://user:pw@app.example.com/cb").is_err());
        assert!(validate("ftp://app.example.com/cb").is_err());
    }

    #[test]
    fn params_are_appended_to_an_existing_query() {
        let to = with_params("https://app.example.com/cb?tenant=1", &[("code", "a b"), ("state", "s&t")]).unwrap();
        assert_eq!(to, "https://app.example.com/cb?tenant=1&code=a+b&state=s%26t");
    }
}
