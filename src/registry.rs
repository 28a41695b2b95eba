//! `registry`: whether a container image has a tag, asked of its registry with the OCI
//! distribution API, so that a runbook never bumps a service to an image that was not built.
//!
//! `HEAD /v2/<name>/manifests/<tag>` answers 200 (the tag exists) or 404 (`MANIFEST_UNKNOWN`).
//! Registries like ghcr.io first answer 401 with a bearer challenge, public images included: the
//! token it names is fetched anonymously, once per repository for the run, and the request sent
//! again with it. The token travels in a header only; no message and no journal line holds it.
//! Any other answer, or none, is an error: a runbook must never take "could not check" for "not
//! there".

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use reqwest::Method;
use rhai::{Dynamic, Engine, EvalAltResult};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::given;
use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::objects::Objects;
use crate::rest::{segment, Auth, LazyRest, Reply, Rest, RestError, Service, Shared};

/// Every kind of manifest a tag can name: a multi-platform index (OCI, Docker) or one image (OCI,
/// Docker). A registry answers 404 for a tag whose manifest is of a kind the client did not accept.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

const URL_HINT: &str =
    "the image's registry host (or OVSCRIPT_REGISTRY_URL, `url` under [registry], where a mirror stands in for it)";

/// The script object `registry`; its HTTP clients are made on first use.
#[derive(Clone)]
pub struct Registry(Arc<RegistryClient>);

struct RegistryClient {
    ctx: Ctx,
    /// One client for manifests and tokens alike; credentials go per request.
    rest: LazyRest,
    /// The pull token of each repository (`{registry} {name}`), for the run.
    authorized: Mutex<HashMap<String, String>>,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Registry>("Registry");
    objects.insert(
        "registry",
        Dynamic::from(Registry(Arc::new(RegistryClient {
            ctx: ctx.clone(),
            rest: LazyRest::default(),
            authorized: Mutex::default(),
        }))),
    );
    engine.register_global_module(rhai::exported_module!(registry_api).into());
}

/// The `registry` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod registry_api {
    use super::*;

    /// Whether an image (its registry host, then its name) has this tag: true or false as the
    /// registry answers (OCI distribution API, the anonymous token ghcr.io gives; `[registry] url`
    /// replaces the host); throws when it cannot tell (refused, 5xx, no answer).
    ///
    /// ```rhai
    /// let built = registry.has_tag("ghcr.io/wordpress/openverse-catalog", "rel-2024.05.02.10.00.00");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn has_tag(registry: Registry, image: &str, tag: &str) -> HostResult<bool> {
        registry.has_tag(image, tag)
    }
}

/// One question: does `image` have `tag`, asked at `url` of the registry at `base`.
struct Asked<'a> {
    image: &'a Image,
    tag: &'a str,
    base: &'a str,
    url: &'a str,
}

impl Asked<'_> {
    /// For messages: `whether ghcr.io/wordpress/openverse-catalog:rel-... exists`.
    fn what(&self) -> String {
        format!("whether {}:{} exists", self.image, self.tag)
    }
}

impl Registry {
    fn ctx(&self) -> &Ctx {
        &self.0.ctx
    }

    fn has_tag(&self, image: &str, tag: &str) -> HostResult<bool> {
        let usage = |e: String| host_error(format!("registry.has_tag: {e}"));
        let image = Image::parse(image).map_err(usage)?;
        let tag = check_tag(tag).map_err(usage)?;
        let configured = given(&self.ctx().config.registry.url);
        let base = registry_url(&image.host, configured.as_deref()).map_err(|e| {
            host_error(format!(
                "{e}: check OVSCRIPT_REGISTRY_URL (or `url` under [registry])"
            ))
        })?;
        let url = format!("{base}/v2/{}/manifests/{}", image.path(), segment(tag));
        let asked = Asked {
            image: &image,
            tag,
            base: &base,
            url: &url,
        };
        self.ctx().check_cancelled()?;
        let reply = self.head(&asked)?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.cannot_tell(&asked, &reply)),
        }
    }

    /// HEADs the manifest, with the repository's token when the run has one. A bearer challenge
    /// (the first contact, or a token that expired) is answered once, with a fresh token.
    fn head(&self, asked: &Asked) -> HostResult<Reply> {
        let key = format!("{} {}", asked.base, asked.image.name);
        let known = self
            .0
            .authorized
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let reply = self.send(asked, known.as_deref())?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let Some(challenge) = bearer_challenge(&reply.headers) else {
            return Err(self.wants_login(asked, &reply));
        };
        let token = self.token(&challenge, asked)?;
        self.0
            .authorized
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, token.clone());
        self.send(asked, Some(&token))
    }

    /// HEADs the manifest, with `token` when there is one: one client for every repository.
    fn send(&self, asked: &Asked, token: Option<&str>) -> HostResult<Reply> {
        let rest = self.rest()?;
        let auth = token.map_or(Auth::None, |t| Auth::Bearer(t.to_string()));
        rest.exchange_as(
            Method::HEAD,
            asked.url,
            None,
            &auth,
            &[("Accept", MANIFEST_TYPES)],
        )
        .map_err(|e| rest.explain(e, &asked.what()).into())
    }

    /// An anonymous pull token from the realm of the challenge, for the scope it names (or, if
    /// it names none, pulling this repository).
    fn token(&self, challenge: &Challenge, asked: &Asked) -> HostResult<String> {
        let scope = challenge
            .scope
            .clone()
            .unwrap_or_else(|| format!("repository:{}:pull", asked.image.name));
        let what = format!(
            "an anonymous pull token for {}, to tell {}",
            asked.image.name,
            asked.what()
        );
        let url = challenge.token_url(&scope).map_err(|e| {
            host_error(format!(
                "the registry at {} asks for a token from {e}, which is not an http(s) URL: {} cannot be told; check {URL_HINT}",
                asked.base,
                asked.what()
            ))
        })?;
        let rest = self.rest()?;
        let reply = rest
            .send(Method::GET, &url, None)
            .map_err(|e| rest.explain(e, &what))?;
        read_token(&reply.text).ok_or_else(|| {
            let reason = "no `token` or `access_token` in it".to_string();
            let url = reply.url.clone();
            rest.explain(RestError::Body { url, reason }, &what).into()
        })
    }

    /// The one client, anonymous: a repository's token is given per request.
    fn rest(&self) -> HostResult<&Rest> {
        let rest = self
            .0
            .rest
            .get(&Shared::of(self.ctx()), || Ok(self.service()))?;
        Ok(rest)
    }

    /// What `Rest` needs; every call gives a full URL.
    fn service(&self) -> Service {
        let config = &self.ctx().config.registry;
        Service {
            credentials_hint: "that the image exists and is public: ovscript pulls anonymously"
                .into(),
            ..Service::by_url("registry", config.timeout, URL_HINT)
        }
    }

    /// Any answer but 200 and 404: the tag may or may not exist.
    fn cannot_tell(&self, asked: &Asked, reply: &Reply) -> Box<EvalAltResult> {
        let status = reply.status;
        let advice = match status {
            401 | 403 => format!(
                "it refused access to {} even with the anonymous token it gave: the image may be private or its name misspelled; check the name, or point OVSCRIPT_REGISTRY_URL (`url` under [registry]) at a registry that serves it",
                asked.image.name
            ),
            429 | 500.. => "the registry is failing or overloaded; try again in a while, or point OVSCRIPT_REGISTRY_URL (`url` under [registry]) at a mirror".into(),
            _ => format!("check the image name and {URL_HINT}"),
        };
        host_error(self.ctx().redact(&format!(
            "cannot tell {}: the registry at {} answered {status} for HEAD {} ({advice}); this does not mean the tag is missing",
            asked.what(),
            asked.base,
            reply.url
        )))
    }

    /// A 401 without a bearer challenge: the registry wants credentials, which ovscript has not.
    fn wants_login(&self, asked: &Asked, reply: &Reply) -> Box<EvalAltResult> {
        let scheme = reply
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_whitespace().next())
            .map_or_else(|| "no challenge".to_string(), |s| format!("{s} auth"));
        host_error(self.ctx().redact(&format!(
            "cannot tell {}: the registry at {} wants a login ({scheme}, HTTP 401 for HEAD {}); ovscript pulls anonymously: point OVSCRIPT_REGISTRY_URL (`url` under [registry]) at a registry or mirror that allows anonymous pulls",
            asked.what(),
            asked.base,
            reply.url
        )))
    }
}

/// An image as scripts write it, `ghcr.io/wordpress/openverse-catalog`: the registry host (and
/// port, if any), then the repository name.
#[derive(Debug, Clone, PartialEq)]
struct Image {
    host: String,
    name: String,
}

impl Image {
    fn parse(text: &str) -> Result<Image, String> {
        let text = text.trim();
        let example = "like ghcr.io/wordpress/openverse-catalog";
        if text.contains("://") {
            return Err(format!(
                "`{text}`: write the image without a scheme, {example}"
            ));
        }
        let Some((host, name)) = text.split_once('/') else {
            return Err(format!(
                "`{text}` is not an image: write its registry host, then its name, {example}"
            ));
        };
        // Docker's rule: the first part is a registry host if it has a dot or a port, or is
        // localhost. Without one docker would guess Docker Hub; a runbook says where it looks.
        if !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(format!(
                "`{text}` names no registry: write its host first, {example}"
            ));
        }
        let last = name.rsplit('/').next().unwrap_or_default();
        if last.contains(':') || last.contains('@') {
            return Err(format!(
                "`{text}`: give the image without its tag or digest, and the tag as the second argument: registry.has_tag(\"{host}/{}\", \"{}\")",
                name.split([':', '@']).next().unwrap_or_default(),
                last.split([':', '@']).nth(1).unwrap_or_default()
            ));
        }
        if name != name.to_ascii_lowercase() {
            return Err(format!(
                "`{text}`: image names are lower case: {host}/{}",
                name.to_ascii_lowercase()
            ));
        }
        if let Some(bad) = name.split('/').find(|c| !is_name_component(c)) {
            return Err(format!(
                "`{text}`: `{bad}` is not a valid part of an image name (letters, digits and . _ -, starting and ending with a letter or digit)"
            ));
        }
        Ok(Image {
            host: host.to_ascii_lowercase(),
            name: name.to_string(),
        })
    }

    /// The name as a URL path: each part encoded on its own, the slashes between kept.
    fn path(&self) -> String {
        self.name
            .split('/')
            .map(segment)
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.name)
    }
}

/// One `/`-separated part of a repository name, as the distribution spec allows it.
fn is_name_component(part: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    part.starts_with(alnum)
        && part.ends_with(alnum)
        && part
            .chars()
            .all(|c| alnum(c) || matches!(c, '.' | '_' | '-'))
}

/// A tag as the distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn check_tag(tag: &str) -> Result<&str, String> {
    let tag = tag.trim();
    let valid = tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(tag)
    } else {
        Err(format!(
            "`{tag}` is not a tag (letters, digits and . _ -, at most 128), e.g. rel-2024.05.02.10.00.00"
        ))
    }
}

/// Where the registry of an image at `host` is: `configured` (`[registry] url`, a mirror or the
/// rehearsal's fake) when set, else the host itself. Without a scheme, a registry on this machine
/// is spoken to over plain HTTP, as docker does, and any other over HTTPS.
fn registry_url(host: &str, configured: Option<&str>) -> Result<String, String> {
    let Some(configured) = configured else {
        return Ok(format!("{}://{host}", scheme_for(host)));
    };
    let configured = configured.trim().trim_end_matches('/');
    let configured = configured.strip_suffix("/v2").unwrap_or(configured);
    if !configured.contains("://") {
        return Ok(format!("{}://{configured}", scheme_for(configured)));
    }
    match url::Url::parse(configured) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(configured.to_string())
        }
        _ => Err(format!(
            "the registry URL `{configured}` is not an http(s) URL"
        )),
    }
}

/// `http` for loopback (`localhost`, `127.x.x.x`, `[::1]`, with or without a port), else `https`.
fn scheme_for(host: &str) -> &'static str {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        "http"
    } else {
        "https"
    }
}

/// A bearer challenge: where to ask for a token, and for what.
#[derive(Debug, PartialEq)]
struct Challenge {
    realm: String,
    service: Option<String>,
    scope: Option<String>,
}

impl Challenge {
    /// `{realm}?service=...&scope=...`; the realm when it is not an http(s) URL.
    fn token_url(&self, scope: &str) -> Result<String, String> {
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
fn bearer_challenge(headers: &HeaderMap) -> Option<Challenge> {
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
fn read_token(text: &str) -> Option<String> {
    let answer: Value = serde_json::from_str(text).ok()?;
    ["token", "access_token"]
        .iter()
        .filter_map(|key| answer.get(*key).and_then(Value::as_str))
        .find(|token| !token.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> Image {
        Image::parse(text).unwrap()
    }

    #[test]
    fn an_image_is_a_host_then_a_name() {
        assert_eq!(
            image("ghcr.io/wordpress/openverse-catalog"),
            Image {
                host: "ghcr.io".into(),
                name: "wordpress/openverse-catalog".into()
            }
        );
        let local = image(" localhost:5000/team/sub/app_x.y ");
        assert_eq!(
            (local.host.as_str(), local.name.as_str()),
            ("localhost:5000", "team/sub/app_x.y")
        );
        assert_eq!(local.to_string(), "localhost:5000/team/sub/app_x.y");
        assert_eq!(image("127.0.0.1:41234/a/b").host, "127.0.0.1:41234");
        assert_eq!(image("localhost/a").host, "localhost");
        assert_eq!(image("GHCR.IO/wordpress/openverse-catalog").host, "ghcr.io");
    }

    #[test]
    fn a_wrong_image_says_how_to_write_it() {
        let err = |text: &str| Image::parse(text).unwrap_err();
        assert!(err("wordpress/openverse-catalog").contains("names no registry"));
        assert!(err("openverse-catalog").contains("registry host, then its name"));
        assert!(err("https://ghcr.io/wordpress/x").contains("without a scheme"));
        let tagged = err("ghcr.io/wordpress/openverse-catalog:rel-1");
        assert!(
            tagged.contains(r#"registry.has_tag("ghcr.io/wordpress/openverse-catalog", "rel-1")"#),
            "{tagged}"
        );
        assert!(err("ghcr.io/a/b@sha256:00").contains("without its tag or digest"));
        let upper = err("ghcr.io/WordPress/openverse-catalog");
        assert!(
            upper.contains("ghcr.io/wordpress/openverse-catalog"),
            "{upper}"
        );
        assert!(err("ghcr.io/a//b").contains("``"));
        assert!(err("ghcr.io/-a/b").contains("`-a`"));
        assert!(err("ghcr.io/a/b?x").contains("`b?x`"));
    }

    #[test]
    fn a_name_goes_into_the_path_encoded_part_by_part() {
        assert_eq!(
            image("ghcr.io/wordpress/openverse-ingestion_server").path(),
            "wordpress/openverse-ingestion_server"
        );
    }

    #[test]
    fn tags_are_checked() {
        assert_eq!(
            check_tag(" rel-2024.05.02.10.00.00 "),
            Ok("rel-2024.05.02.10.00.00")
        );
        assert_eq!(check_tag("_x"), Ok("_x"));
        assert!(check_tag("").is_err());
        assert!(check_tag(".x").is_err());
        assert!(check_tag("a/b").is_err());
        assert!(check_tag("sha256:abc").is_err());
        assert!(check_tag(&"x".repeat(129)).is_err());
    }

    #[test]
    fn loopback_is_plain_http_and_the_rest_https() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.1:41234",
            "127.1.2.3:80",
            "[::1]:5000",
            "[::1]",
        ] {
            assert_eq!(registry_url(host, None).unwrap(), format!("http://{host}"));
        }
        for host in [
            "ghcr.io",
            "registry.example.org:5000",
            "10.0.0.1:5000",
            "localhost.example.org",
        ] {
            assert_eq!(registry_url(host, None).unwrap(), format!("https://{host}"));
        }
    }

    #[test]
    fn the_configured_url_replaces_the_images_host() {
        let url = |configured: &str| registry_url("ghcr.io", Some(configured));
        assert_eq!(
            url("http://127.0.0.1:40001").unwrap(),
            "http://127.0.0.1:40001"
        );
        assert_eq!(
            url("https://mirror.example.org/").unwrap(),
            "https://mirror.example.org"
        );
        assert_eq!(
            url("https://mirror.example.org/v2/").unwrap(),
            "https://mirror.example.org"
        );
        assert_eq!(
            url("https://proxy.example.org/ghcr").unwrap(),
            "https://proxy.example.org/ghcr"
        );
        // Without a scheme, the same rule as for an image's host.
        assert_eq!(url("127.0.0.1:5000").unwrap(), "http://127.0.0.1:5000");
        assert_eq!(
            url("mirror.example.org").unwrap(),
            "https://mirror.example.org"
        );
        assert!(url("ftp://mirror.example.org")
            .unwrap_err()
            .contains("not an http(s) URL"));
    }

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
