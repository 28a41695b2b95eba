//! A registry's bearer challenge (`WWW-Authenticate: Bearer realm=...`) and its token endpoint's
//! answer.

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A bearer challenge: where to ask for a token, and for what.
#[derive(Debug, PartialEq)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

impl Challenge {
    /// `{realm}?service=...&scope=...`; the realm when it is not an http(s) URL.
    pub fn token_url(&self, scope: &str) -> Result<String, String> {
        let mut url = url::Url::parse(&self.realm)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| self.realm.clone())?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &self.service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", scope);
        }
        Ok(url.to_string())
    }
}

/// The first `WWW-Authenticate: Bearer ...` challenge of an answer.
pub fn bearer_challenge(headers: &HeaderMap) -> Option<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_bearer)
}

/// Parses `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:x:pull"`:
/// parameters in any order, quoted (with `\` escapes; a scope may hold commas) or not; the
/// scheme in any case. Not a bearer challenge, or no realm: `None`.
fn parse_bearer(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut found: HashMap<String, String> = HashMap::new();
    let mut chars = params.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        found.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let realm = found.remove("realm").filter(|r| !r.is_empty())?;
    Some(Challenge {
        realm,
        service: found.remove("service"),
        scope: found.remove("scope"),
    })
}

/// The token of a token endpoint's answer: `token`, or OAuth's `access_token`.
pub fn read_token(text: &str) -> Option<String> {
    let answer: Map<String, Value> = serde_json::from_str(text).ok()?;
    ["token", "access_token"]
        .iter()
        .filter_map(|key| answer.get(*key).and_then(Value::as_str))
        .find(|token| !token.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_of_ghcr_is_read() {
        let ghcr = r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:wordpress/openverse-catalog:pull""#;
        let challenge = parse_bearer(ghcr).unwrap();
        assert_eq!(
            challenge,
            Challenge {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:wordpress/openverse-catalog:pull".into()),
            }
        );
        assert_eq!(
            challenge.token_url("repository:wordpress/openverse-catalog:pull").unwrap(),
            "https://ghcr.io/token?service=ghcr.io&scope=repository%3Awordpress%2Fopenverse-catalog%3Apull"
        );
    }

    #[test]
    fn challenges_are_read_in_every_form() {
        // Any order and case, spaces, a comma inside a quoted scope, an escaped quote.
        let odd = r#"bearer  scope="repository:a/b:pull,push", REALM="https://auth.example.org/token?x=1" , service=registry.example.org, error="insufficient_\"scope\"""#;
        let challenge = parse_bearer(odd).unwrap();
        assert_eq!(challenge.realm, "https://auth.example.org/token?x=1");
        assert_eq!(challenge.service.as_deref(), Some("registry.example.org"));
        assert_eq!(challenge.scope.as_deref(), Some("repository:a/b:pull,push"));
        assert_eq!(
            challenge.token_url("repository:a/b:pull").unwrap(),
            "https://auth.example.org/token?x=1&service=registry.example.org&scope=repository%3Aa%2Fb%3Apull"
        );
        let bare = parse_bearer(r#"Bearer realm="http://127.0.0.1:9/token""#).unwrap();
        assert_eq!((bare.service, bare.scope), (None, None));
        assert_eq!(parse_bearer(r#"Basic realm="registry""#), None);
        assert_eq!(parse_bearer(r#"Bearer service="ghcr.io""#), None);
        assert_eq!(parse_bearer("Bearer"), None);
        let relative = parse_bearer(r#"Bearer realm="/token""#).unwrap();
        assert_eq!(relative.token_url("s").unwrap_err(), "/token");
    }

    #[test]
    fn the_first_bearer_challenge_of_an_answer_counts() {
        let mut headers = HeaderMap::new();
        headers.append(WWW_AUTHENTICATE, r#"Basic realm="x""#.parse().unwrap());
        headers.append(
            WWW_AUTHENTICATE,
            r#"Bearer realm="https://r/token""#.parse().unwrap(),
        );
        assert_eq!(bearer_challenge(&headers).unwrap().realm, "https://r/token");
        assert_eq!(bearer_challenge(&HeaderMap::new()), None);
    }

    #[test]
    fn tokens_come_as_token_or_access_token() {
        assert_eq!(read_token(r#"{"token":"djE6"}"#).as_deref(), Some("djE6"));
        assert_eq!(
            read_token(r#"{"access_token":"a","expires_in":300}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            read_token(r#"{"token":"","access_token":"b"}"#).as_deref(),
            Some("b")
        );
        assert_eq!(read_token(r#"{"errors":[]}"#), None);
        assert_eq!(read_token("<html>"), None);
    }
}
