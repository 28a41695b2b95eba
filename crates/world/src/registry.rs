//! The fake container registry: ghcr.io's side of the OCI distribution API, for the Openverse
//! images.
//!
//! As on ghcr.io, public images still need a token: a `/v2/` request without one is a 401 whose
//! `WWW-Authenticate: Bearer realm="{url}/token",service="ghcr.io",scope="repository:{name}:pull"`
//! names the token endpoint, and `GET /token?service=ghcr.io&scope=repository:{name}:pull` gives
//! anyone `{"token": ...}`, good for pulling the repositories its scopes name. `HEAD` and `GET`
//! of `/v2/{name}/manifests/{tag}` answer 200 with the OCI index of a two-platform image (its
//! content type, `Docker-Content-Digest`), or 404 `MANIFEST_UNKNOWN` (for an unknown repository
//! too, as the CNCF registry answers). The images are indexes, so a request whose `Accept` lacks
//! the OCI index type gets 404 too, as from the CNCF registry. Manifests are found by tag only:
//! a digest is unknown here.
//!
//! The images are `wordpress/openverse-{api,frontend,catalog,ingestion_server}`, each with
//! `latest` and the `rel-{date}` tag of every release of its app (`{app}-{date}`) that GitHub had
//! published when the world began. A release published in the world is tagged by its build a
//! while later ([`build_time`]), or never (`image-missing`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::server::{Incoming, Reply};
use super::{Answer, Ctx, Scenario};

/// The `service` of the token challenge: the fake answers as ghcr.io does.
const SERVICE: &str = "ghcr.io";
/// Openverse's images are `ghcr.io/wordpress/openverse-{app}`.
const OWNER: &str = "wordpress";
const APPS: [&str; 4] = ["api", "frontend", "catalog", "ingestion_server"];
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// How long after a release is published its image is tagged in the registry (the image build
/// of the release workflow), in real time; `None`: never.
pub(crate) fn build_time(scenario: Scenario) -> Option<Duration> {
    match scenario {
        // Six minutes on the rehearsal's clock (120 times faster than real time).
        Scenario::ImageLate => Some(Duration::from_secs(3)),
        Scenario::ImageMissing => None,
        _ => Some(Duration::from_millis(300)),
    }
}

/// The image and tag the release workflow builds for a release tag:
/// `catalog-2024.04.01.12.00.00` -> (`wordpress/openverse-catalog`, `rel-2024.04.01.12.00.00`).
pub(crate) fn image_of_release(release: &str) -> Option<(String, String)> {
    APPS.iter().find_map(|app| {
        let date = release.strip_prefix(app)?.strip_prefix('-')?;
        Some((format!("{OWNER}/openverse-{app}"), format!("rel-{date}")))
    })
}

/// The release tag of an image tag: the inverse of [`image_of_release`].
fn release_of_image(name: &str, tag: &str) -> Option<String> {
    let app = name.strip_prefix(OWNER)?.strip_prefix("/openverse-")?;
    let date = tag.strip_prefix("rel-")?;
    APPS.contains(&app).then(|| format!("{app}-{date}"))
}

/// The repository name of an image written with or without its registry host:
/// `ghcr.io/wordpress/openverse-catalog` and `wordpress/openverse-catalog` are the same here.
pub(crate) fn repository(image: &str) -> &str {
    let image = image.trim();
    match image.split_once('/') {
        Some((host, name)) if host.contains(['.', ':']) || host == "localhost" => name,
        _ => image,
    }
}

/// A tag that a release build will push (or, with `at: None`, never will).
struct Coming {
    name: String,
    tag: String,
    at: Option<DateTime<Utc>>,
}

pub(crate) struct Registry {
    /// Tags pushed explicitly: `latest`, and what tests add.
    tagged: BTreeMap<String, BTreeSet<String>>,
    /// Tags of the releases published in the world.
    coming: Vec<Coming>,
    build_time: Option<Duration>,
    /// Tokens given out, with the repositories each may pull.
    tokens: Vec<(String, Vec<String>)>,
}

impl Registry {
    pub(crate) fn new(scenario: Scenario) -> Registry {
        let tagged = APPS
            .iter()
            .map(|app| {
                let tags = BTreeSet::from(["latest".to_string()]);
                (format!("{OWNER}/openverse-{app}"), tags)
            })
            .collect();
        Registry {
            tagged,
            coming: Vec::new(),
            build_time: build_time(scenario),
            tokens: Vec::new(),
        }
    }

    /// GitHub published `release` now: its image is tagged after the build time.
    pub(crate) fn release_published(&mut self, release: &str, now: DateTime<Utc>) {
        let Some((name, tag)) = image_of_release(release) else {
            return;
        };
        let at = self
            .build_time
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| now + d);
        self.coming.retain(|c| (&c.name, &c.tag) != (&name, &tag));
        self.coming.push(Coming { name, tag, at });
    }

    /// Pushes a tag now (a test's shortcut; the release flow uses `release_published`).
    pub(crate) fn tag(&mut self, image: &str, tag: &str) {
        let name = repository(image).to_string();
        self.tagged.entry(name).or_default().insert(tag.to_string());
    }

    /// Whether `name` has `tag` at `now`. `published_before` says whether GitHub has the release
    /// published; one not published in the world was published, and built, before it began.
    pub(crate) fn has(
        &self,
        name: &str,
        tag: &str,
        now: DateTime<Utc>,
        published_before: &dyn Fn(&str) -> bool,
    ) -> bool {
        if self.tagged.get(name).is_some_and(|tags| tags.contains(tag)) {
            return true;
        }
        if let Some(coming) = self.coming.iter().find(|c| c.name == name && c.tag == tag) {
            return coming.at.is_some_and(|at| at <= now);
        }
        release_of_image(name, tag).is_some_and(|release| published_before(&release))
    }

    pub(crate) fn handle(
        &mut self,
        ctx: &Ctx,
        req: &Incoming,
        published_before: &dyn Fn(&str) -> bool,
    ) -> Answer {
        if let Some(status) = ctx.faults.registry_status {
            let error = error_body("UNKNOWN", "unknown error", Value::Null);
            return Answer::new(Reply::json(status, &error), false);
        }
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["token"] if req.method == "GET" => Answer::new(self.give_token(req), false),
            ["v2", rest @ ..] => self.api(ctx, req, rest, published_before),
            _ => Answer::new(page_not_found(), false),
        }
    }

    /// `/token`: an anonymous pull token for every repository the `scope`s name.
    fn give_token(&mut self, req: &Incoming) -> Reply {
        let names: Vec<String> = req
            .param_all("scope")
            .iter()
            .filter_map(|scope| {
                let rest = scope.strip_prefix("repository:")?;
                let (name, actions) = rest.rsplit_once(':')?;
                actions
                    .split(',')
                    .any(|a| a == "pull")
                    .then(|| name.to_string())
            })
            .collect();
        let seed = format!("{}:{}:{}", self.tokens.len(), names.join(","), req.base_url);
        let token = format!("djE6{}", &hex(&Sha256::digest(seed.as_bytes()))[..40]);
        self.tokens.push((token.clone(), names));
        Reply::json(200, &json!({ "token": token }))
    }

    /// The repositories the request's token may pull; `None` without a token of this registry.
    fn pullable(&self, req: &Incoming) -> Option<&[String]> {
        let given = req.header("authorization")?;
        let (scheme, token) = given.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.tokens
            .iter()
            .find(|(t, _)| t == token.trim())
            .map(|(_, names)| names.as_slice())
    }

    /// Everything under `/v2/`.
    fn api(
        &self,
        ctx: &Ctx,
        req: &Incoming,
        rest: &[&str],
        published_before: &dyn Fn(&str) -> bool,
    ) -> Answer {
        let pullable = self.pullable(req);
        // `/v2/` itself: "is this a registry, and may I talk to it".
        if matches!(rest, [] | [""]) {
            let reply = match pullable {
                Some(_) => Reply::json(200, &json!({})),
                None => challenge(req, None),
            };
            return Answer::new(reply, pullable.is_some());
        }
        let [parts @ .., "manifests", tag] = rest else {
            return Answer::new(page_not_found(), pullable.is_some());
        };
        let name = parts.join("/");
        // A token for another repository is no credential for this one.
        if !pullable.is_some_and(|names| names.contains(&name)) {
            return Answer::new(challenge(req, Some(&name)), false);
        }
        let reply = match req.method.as_str() {
            "HEAD" | "GET" => self.manifest(ctx, req, &name, tag, published_before),
            _ => Reply::json(
                405,
                &error_body("UNSUPPORTED", "The operation is unsupported.", Value::Null),
            ),
        };
        Answer::new(reply, true)
    }

    /// The manifest of `name:tag`: an OCI index, or 404 `MANIFEST_UNKNOWN`.
    fn manifest(
        &self,
        ctx: &Ctx,
        req: &Incoming,
        name: &str,
        tag: &str,
        published_before: &dyn Fn(&str) -> bool,
    ) -> Reply {
        if !self.has(name, tag, ctx.now, published_before) {
            let detail = json!({ "Tag": tag });
            let error = error_body("MANIFEST_UNKNOWN", "manifest unknown", detail);
            return Reply::json(404, &error);
        }
        if !accepts_index(req) {
            return Reply::json(
                404,
                &error_body(
                    "MANIFEST_UNKNOWN",
                    "OCI index found, but accept header does not support OCI indexes",
                    Value::Null,
                ),
            );
        }
        let body = index(name, tag);
        Reply {
            status: 200,
            headers: vec![
                ("Content-Type".into(), INDEX.into()),
                ("Docker-Content-Digest".into(), digest(&body)),
                (
                    "Docker-Distribution-Api-Version".into(),
                    "registry/2.0".into(),
                ),
            ],
            body,
        }
    }
}

/// The 401 of a request without a token that may pull `name`: where to get one.
fn challenge(req: &Incoming, name: Option<&str>) -> Reply {
    let mut header = format!(
        r#"Bearer realm="{}/token",service="{SERVICE}""#,
        req.base_url
    );
    if let Some(name) = name {
        header.push_str(&format!(r#",scope="repository:{name}:pull""#));
    }
    let error = error_body("UNAUTHORIZED", "authentication required", Value::Null);
    Reply::json(401, &error).with_header("WWW-Authenticate", header)
}

/// The distribution API's error shape.
fn error_body(code: &str, message: &str, detail: Value) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if !detail.is_null() {
        error["detail"] = detail;
    }
    json!({ "errors": [error] })
}

/// What the CNCF registry answers for a path outside the API.
fn page_not_found() -> Reply {
    Reply {
        status: 404,
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: b"404 page not found\n".to_vec(),
    }
}

/// Whether the request's `Accept` takes an OCI index.
fn accepts_index(req: &Incoming) -> bool {
    req.header("accept").is_some_and(|accept| {
        accept
            .split(',')
            .map(|t| t.split(';').next().unwrap_or_default().trim())
            .any(|t| t == INDEX || t == "*/*")
    })
}

/// The OCI index of `name:tag`: an amd64 and an arm64 image, their digests made up from the
/// name and the tag, so each tag has its own digest and the same one on every request.
fn index(name: &str, tag: &str) -> Vec<u8> {
    let platform = |arch: &str| {
        json!({
            "mediaType": IMAGE_MANIFEST,
            "digest": digest(format!("{name}:{tag}:{arch}").as_bytes()),
            "size": 1_612,
            "platform": { "architecture": arch, "os": "linux" },
        })
    };
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [platform("amd64"), platform("arm64")],
    });
    serde_json::to_vec(&index).unwrap_or_default()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Faults, World};
    use reqwest::blocking::{Client, Response};

    const ACCEPT: &str =
        "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";

    fn client() -> Client {
        Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap()
    }

    fn token(world: &World, name: &str) -> String {
        let url = format!(
            "{}/token?service=ghcr.io&scope=repository:{name}:pull",
            world.registry_url()
        );
        let answer: Value = client().get(url).send().unwrap().json().unwrap();
        answer["token"].as_str().unwrap().to_string()
    }

    fn manifest(world: &World, method: reqwest::Method, name: &str, reference: &str) -> Response {
        let url = format!("{}/v2/{name}/manifests/{reference}", world.registry_url());
        client()
            .request(method, url)
            .bearer_auth(token(world, name))
            .header("Accept", ACCEPT)
            .send()
            .unwrap()
    }

    fn header(response: &Response, name: &str) -> String {
        response.headers()[name].to_str().unwrap().to_string()
    }

    #[test]
    fn releases_map_to_their_images() {
        assert_eq!(
            image_of_release("ingestion_server-2024.04.02.09.30.00"),
            Some((
                "wordpress/openverse-ingestion_server".into(),
                "rel-2024.04.02.09.30.00".into()
            ))
        );
        assert_eq!(image_of_release("catalogue-2024.04.02.09.30.00"), None);
        assert_eq!(
            release_of_image("wordpress/openverse-catalog", "rel-2024.04.01.12.00.00").as_deref(),
            Some("catalog-2024.04.01.12.00.00")
        );
        assert_eq!(
            release_of_image("wordpress/openverse-catalog", "latest"),
            None
        );
        assert_eq!(
            repository("ghcr.io/wordpress/openverse-api"),
            "wordpress/openverse-api"
        );
        assert_eq!(
            repository("wordpress/openverse-api"),
            "wordpress/openverse-api"
        );
    }

    #[test]
    fn a_manifest_needs_a_token_that_the_token_endpoint_gives() {
        let world = World::start(Scenario::Calm).unwrap();
        let name = "wordpress/openverse-catalog";
        let url = format!("{}/v2/{name}/manifests/latest", world.registry_url());
        let anonymous = client().head(&url).header("Accept", ACCEPT).send().unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(
            header(&anonymous, "www-authenticate"),
            format!(
                r#"Bearer realm="{}/token",service="ghcr.io",scope="repository:{name}:pull""#,
                world.registry_url()
            )
        );
        // A token for another repository does not do.
        let other = client()
            .head(&url)
            .bearer_auth(token(&world, "wordpress/openverse-api"))
            .send()
            .unwrap();
        assert_eq!(other.status(), 401);
        let found = manifest(&world, reqwest::Method::HEAD, name, "latest");
        assert_eq!(found.status(), 200);
        assert_eq!(header(&found, "content-type"), INDEX);
        assert!(header(&found, "docker-content-digest").starts_with("sha256:"));
        let log = world.requests();
        assert!(log.iter().all(|r| r.service == "registry"));
        let statuses: Vec<(u16, bool)> = log.iter().map(|r| (r.status, r.authorized)).collect();
        assert_eq!(
            statuses,
            [
                (401, false),
                (200, false),
                (401, false),
                (200, false),
                (200, true)
            ]
        );
    }

    #[test]
    fn get_gives_the_index_and_its_digest() {
        let world = World::start(Scenario::Calm).unwrap();
        let name = "wordpress/openverse-catalog";
        let found = manifest(
            &world,
            reqwest::Method::GET,
            name,
            "rel-2024.04.01.12.00.00",
        );
        assert_eq!(found.status(), 200);
        let digest = header(&found, "docker-content-digest");
        let body = found.bytes().unwrap();
        assert_eq!(super::digest(&body), digest);
        let index: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(index["mediaType"], INDEX);
        assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
        let again = manifest(
            &world,
            reqwest::Method::HEAD,
            name,
            "rel-2024.04.01.12.00.00",
        );
        assert_eq!(header(&again, "docker-content-digest"), digest);
        let latest = manifest(&world, reqwest::Method::HEAD, name, "latest");
        assert_ne!(header(&latest, "docker-content-digest"), digest);
    }

    #[test]
    fn a_missing_tag_is_manifest_unknown() {
        let world = World::start(Scenario::Calm).unwrap();
        for (name, tag) in [
            ("wordpress/openverse-catalog", "rel-2024.05.02.10.00.00"),
            ("wordpress/openverse-catalog", "rel-1999.01.01.00.00.00"),
            ("wordpress/openverse-nothing", "latest"),
        ] {
            let head = manifest(&world, reqwest::Method::HEAD, name, tag);
            assert_eq!(head.status(), 404, "{name}:{tag}");
            let get: Value = manifest(&world, reqwest::Method::GET, name, tag)
                .json()
                .unwrap();
            assert_eq!(get["errors"][0]["code"], "MANIFEST_UNKNOWN");
            assert_eq!(get["errors"][0]["detail"]["Tag"], tag);
        }
    }

    #[test]
    fn without_the_index_type_in_accept_an_index_is_not_found() {
        let world = World::start(Scenario::Calm).unwrap();
        let name = "wordpress/openverse-catalog";
        let url = format!("{}/v2/{name}/manifests/latest", world.registry_url());
        let answer: Value = client()
            .get(url)
            .bearer_auth(token(&world, name))
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("accept header does not support OCI indexes"));
    }

    #[test]
    fn the_published_releases_are_there_and_the_drafts_are_not() {
        let world = World::start(Scenario::Calm).unwrap();
        for (image, tag, there) in [
            ("ghcr.io/wordpress/openverse-catalog", "latest", true),
            (
                "ghcr.io/wordpress/openverse-catalog",
                "rel-2024.04.01.12.00.00",
                true,
            ),
            (
                "wordpress/openverse-ingestion_server",
                "rel-2024.04.02.09.30.00",
                true,
            ),
            (
                "ghcr.io/wordpress/openverse-catalog",
                "rel-2024.05.02.10.00.00",
                false,
            ),
            (
                "ghcr.io/wordpress/openverse-ingestion_server",
                "rel-2024.05.02.10.05.00",
                false,
            ),
            (
                "ghcr.io/wordpress/openverse-frontend",
                "rel-2024.05.02.09.10.00",
                false,
            ),
        ] {
            assert_eq!(world.image_has_tag(image, tag), there, "{image}:{tag}");
        }
        world.tag_image(
            "ghcr.io/wordpress/openverse-catalog",
            "rel-2024.05.02.10.00.00",
        );
        assert!(world.image_has_tag(
            "ghcr.io/wordpress/openverse-catalog",
            "rel-2024.05.02.10.00.00"
        ));
    }

    #[test]
    fn a_published_release_is_built_after_the_scenarios_build_time() {
        assert_eq!(build_time(Scenario::Calm), Some(Duration::from_millis(300)));
        assert_eq!(
            build_time(Scenario::ImageLate),
            Some(Duration::from_secs(3))
        );
        assert_eq!(build_time(Scenario::ImageMissing), None);
        let t0 = Utc::now();
        let published = |_: &str| true;
        let mut registry = Registry::new(Scenario::ImageLate);
        let (name, tag) = ("wordpress/openverse-catalog", "rel-2024.05.02.10.00.00");
        registry.release_published("catalog-2024.05.02.10.00.00", t0);
        let at = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
        assert!(!registry.has(name, tag, at(2_900), &published));
        assert!(registry.has(name, tag, at(3_000), &published));
        let mut missing = Registry::new(Scenario::ImageMissing);
        missing.release_published("catalog-2024.05.02.10.00.00", t0);
        assert!(!missing.has(name, tag, at(3_600_000), &published));
        // The releases published before the world stay built.
        assert!(missing.has(name, "rel-2024.04.01.12.00.00", t0, &published));
    }

    #[test]
    fn a_status_fault_answers_everything() {
        let faults = Faults {
            registry_status: Some(503),
            ..Faults::default()
        };
        let world = World::start_with(Scenario::Calm, faults, Default::default()).unwrap();
        let token = client()
            .get(format!(
                "{}/token?scope=repository:a/b:pull",
                world.registry_url()
            ))
            .send()
            .unwrap();
        assert_eq!(token.status(), 503);
        let v2 = client()
            .get(format!("{}/v2/", world.registry_url()))
            .send()
            .unwrap();
        assert_eq!(v2.status(), 503);
        let body: Value = v2.json().unwrap();
        assert_eq!(body["errors"][0]["code"], "UNKNOWN");
    }
}
