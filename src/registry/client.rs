//! Asks a registry whether an image has a tag, with the OCI distribution API. No Rhai here: it
//! answers true, false, or a `Failure` that says why it cannot tell.

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::Method;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::challenge::{bearer_challenge, read_token, Challenge};
use super::model::{registry_url, Image};
use crate::config::given;
use crate::error::Failure;
use crate::rest::{display_url, segment, Auth, Reply, Rest, RestError, Service, Shared};

/// Every kind of manifest a tag can name: a multi-platform index (OCI, Docker) or one image (OCI,
/// Docker). A registry answers 404 for a tag whose manifest is of a kind the client did not accept.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

const URL_HINT: &str =
    "the image's registry host (or OVSCRIPT_REGISTRY_URL, `url` under [registry], where a mirror stands in for it)";

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

/// One client for every registry a run asks: manifests and tokens alike go through one HTTP
/// client, credentials per request.
pub struct Client {
    rest: Rest,
    /// `[registry] url`: a mirror (or the rehearsal's fake) standing in for every image's host.
    mirror: Option<String>,
    /// The pull token of each repository (`{registry} {name}`), for the run.
    authorized: Mutex<HashMap<String, String>>,
}

impl Client {
    pub fn new(settings: &crate::config::Registry, shared: Shared) -> Result<Client, Failure> {
        let service = Service {
            credentials_hint: "that the image exists and is public: ovscript pulls anonymously"
                .into(),
            ..Service::by_url("registry", settings.timeout, URL_HINT)
        };
        Ok(Client {
            rest: Rest::new(shared, service)?,
            mirror: given(&settings.url),
            authorized: Mutex::default(),
        })
    }

    /// Whether `image` has `tag`: true (200) or false (404) as the registry answers; anything
    /// else, or no answer, is a failure that says the tag may still exist.
    pub fn has_tag(&self, image: &Image, tag: &str) -> Result<bool, Failure> {
        let base = registry_url(&image.host, self.mirror.as_deref()).map_err(|e| {
            Failure::new(format!(
                "{e}: check OVSCRIPT_REGISTRY_URL (or `url` under [registry])"
            ))
        })?;
        let url = format!("{base}/v2/{}/manifests/{}", image.path(), segment(tag));
        let asked = Asked {
            image,
            tag,
            base: &base,
            url: &url,
        };
        self.rest.shared().check_cancelled()?;
        let reply = self.head(&asked)?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.cannot_tell(&asked, &reply)),
        }
    }

    /// HEADs the manifest, with the repository's token when the run has one. A bearer challenge
    /// (the first contact, or a token that expired) is answered once, with a fresh token.
    fn head(&self, asked: &Asked) -> Result<Reply, Failure> {
        let key = format!("{} {}", asked.base, asked.image.name);
        let known = self
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
        self.authorized
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, token.clone());
        self.send(asked, Some(&token))
    }

    /// HEADs the manifest, with `token` when there is one: one client for every repository.
    fn send(&self, asked: &Asked, token: Option<&str>) -> Result<Reply, Failure> {
        let rest = &self.rest;
        let auth = token.map_or(Auth::None, |t| Auth::Bearer(t.to_string()));
        rest.exchange_as(
            Method::HEAD,
            asked.url,
            None,
            &auth,
            &[("Accept", MANIFEST_TYPES)],
        )
        .map_err(|e| rest.explain(e, &asked.what()))
    }

    /// An anonymous pull token from the realm of the challenge, for the scope it names (or, if
    /// it names none, pulling this repository).
    fn token(&self, challenge: &Challenge, asked: &Asked) -> Result<String, Failure> {
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
            Failure::new(format!(
                "the registry at {} asks for a token from {e}, which is not an http(s) URL: {} cannot be told; check {URL_HINT}",
                shown(asked.base),
                asked.what()
            ))
        })?;
        let rest = &self.rest;
        let reply = rest
            .send(Method::GET, &url, None)
            .map_err(|e| rest.explain(e, &what))?;
        read_token(&reply.text).ok_or_else(|| {
            let reason = "no `token` or `access_token` in it".to_string();
            let url = reply.url.clone();
            rest.explain(RestError::Body { url, reason }, &what)
        })
    }

    /// Any answer but 200 and 404: the tag may or may not exist.
    fn cannot_tell(&self, asked: &Asked, reply: &Reply) -> Failure {
        let status = reply.status;
        let advice = match status {
            401 | 403 => format!(
                "it refused access to {} even with the anonymous token it gave: the image may be private or its name misspelled; check the name, or point OVSCRIPT_REGISTRY_URL (`url` under [registry]) at a registry that serves it",
                asked.image.name
            ),
            429 | 500.. => "the registry is failing or overloaded; try again in a while, or point OVSCRIPT_REGISTRY_URL (`url` under [registry]) at a mirror".into(),
            _ => format!("check the image name and {URL_HINT}"),
        };
        self.rest.shared().failure(format!(
            "cannot tell {}: the registry at {} answered {status} for HEAD {} ({advice}); this does not mean the tag is missing",
            asked.what(),
            shown(asked.base),
            reply.url
        ))
    }

    /// A 401 without a bearer challenge: the registry wants credentials, which ovscript has not.
    fn wants_login(&self, asked: &Asked, reply: &Reply) -> Failure {
        let scheme = reply
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_whitespace().next())
            .map_or_else(|| "no challenge".to_string(), |s| format!("{s} auth"));
        self.rest.shared().failure(format!(
            "cannot tell {}: the registry at {} wants a login ({scheme}, HTTP 401 for HEAD {}); ovscript pulls anonymously: point OVSCRIPT_REGISTRY_URL (`url` under [registry]) at a registry or mirror that allows anonymous pulls",
            asked.what(),
            shown(asked.base),
            reply.url
        ))
    }
}

/// A registry's address as messages show it: without credentials, as it was written.
fn shown(base: &str) -> String {
    let url = display_url(base);
    if base.ends_with('/') {
        url
    } else {
        url.trim_end_matches('/').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Scenario, World};

    #[test]
    fn a_tag_is_there_once_the_world_pushed_it_and_the_token_is_asked_once() {
        let world = World::start(Scenario::Calm).unwrap();
        let settings = crate::config::Registry {
            url: Some(world.registry_url()),
            timeout: Some(5),
        };
        let registry = Client::new(&settings, Shared::detached()).unwrap();
        let image = Image::parse("ghcr.io/wordpress/openverse-catalog").unwrap();
        assert!(!registry.has_tag(&image, "rel-ovscript-test").unwrap());
        world.tag_image("ghcr.io/wordpress/openverse-catalog", "rel-ovscript-test");
        assert!(registry.has_tag(&image, "rel-ovscript-test").unwrap());
        let tokens = world
            .requests()
            .iter()
            .filter(|r| r.path.contains("token"))
            .count();
        assert_eq!(tokens, 1, "{:?}", world.requests());
    }
}
