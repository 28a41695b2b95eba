//! `registry.has_tag` run by the real binary: against the simulated ghcr.io of the world (the
//! token dance, tags appearing after a release is published, failures), and against a real CNCF
//! distribution registry that tools/with-registry.sh starts (`OVSCRIPT_TEST_REGISTRY_URL`).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

use ovscript::journal::Event;
use ovscript::world::{Credentials, Faults, Request, Scenario, World};

use crate::test::{journal_events_lenient, journal_text, Test, TAKES_OVER};

const CATALOG: &str = "ghcr.io/wordpress/openverse-catalog";
const CATALOG_NAME: &str = "wordpress/openverse-catalog";
/// The last published catalog release's image tag, and the draft's.
const PUBLISHED_TAG: &str = "rel-2024.04.01.12.00.00";
const DRAFT_TAG: &str = "rel-2024.05.02.10.00.00";
/// The prefix of every token the fake gives out, to check that none is shown.
const TOKEN_PREFIX: &str = "djE6";

fn world_with(scenario: Scenario, faults: Faults) -> World {
    World::start_with(scenario, faults, Credentials::default()).expect("world")
}

/// A run of `script` whose registry (and GitHub, to publish releases) is the world's.
fn against(world: &World, script: &str) -> Test {
    Test::new()
        .deploying()
        .script(script)
        .env("OVSCRIPT_REGISTRY_URL", &world.registry_url())
        .env("OVSCRIPT_GITHUB_URL", &world.github_url())
        .env("OVSCRIPT_GITHUB_REPO", world.github_repo())
        .env("OVSCRIPT_GITHUB_INFRA_REPO", world.github_infra_repo())
        .env("OVSCRIPT_GITHUB_TOKEN", &world.credentials().github_token)
}

fn registry_requests(world: &World) -> Vec<Request> {
    world
        .requests()
        .into_iter()
        .filter(|r| r.service == "registry")
        .collect()
}

/// `METHOD path status authorized`, one line a request, for comparing with what a test expects.
fn summary(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let who = if r.authorized { "token" } else { "anonymous" };
            format!("{} {} {} {who}", r.method, r.path, r.status)
        })
        .collect()
}

#[test]
fn an_existing_tag_is_true_and_a_missing_one_false() {
    let world = world_with(Scenario::Calm, Faults::default());
    let out = against(
        &world,
        &format!(
            r#"
            print(`published ${{registry.has_tag("{CATALOG}", "{PUBLISHED_TAG}")}}`);
            print(`draft ${{registry.has_tag("{CATALOG}", "{DRAFT_TAG}")}}`);
            print(`latest ${{registry.has_tag("{CATALOG}", "latest")}}`);
            print(`ingestion ${{registry.has_tag("ghcr.io/wordpress/openverse-ingestion_server", "rel-2024.04.02.09.30.00")}}`);
            print(`no such image ${{registry.has_tag("ghcr.io/wordpress/openverse-nothing", "latest")}}`);
            print(type_of(registry.has_tag("{CATALOG}", "latest")));
        "#
        ),
    )
    .run();
    out.success()
        .stdout_has("published true")
        .stdout_has("draft false")
        .stdout_has("latest true")
        .stdout_has("ingestion true")
        .stdout_has("no such image false")
        .stdout_has("bool");
}

#[test]
fn the_anonymous_token_is_fetched_once_per_repository_and_never_shown() {
    let world = world_with(Scenario::Calm, Faults::default());
    let out = against(
        &world,
        &format!(
            r#"
            registry.has_tag("{CATALOG}", "{PUBLISHED_TAG}");
            registry.has_tag("{CATALOG}", "{DRAFT_TAG}");
            registry.has_tag("ghcr.io/wordpress/openverse-api", "latest");
        "#
        ),
    )
    .run();
    out.success();
    let manifest = |name: &str, tag: &str| format!("/v2/{name}/manifests/{tag}");
    assert_eq!(
        summary(&registry_requests(&world)),
        [
            format!(
                "HEAD {} 401 anonymous",
                manifest(CATALOG_NAME, PUBLISHED_TAG)
            ),
            "GET /token 200 anonymous".to_string(),
            format!("HEAD {} 200 token", manifest(CATALOG_NAME, PUBLISHED_TAG)),
            // The same repository: the run's token, straight away.
            format!("HEAD {} 404 token", manifest(CATALOG_NAME, DRAFT_TAG)),
            // Another repository: a token of its own.
            format!(
                "HEAD {} 401 anonymous",
                manifest("wordpress/openverse-api", "latest")
            ),
            "GET /token 200 anonymous".to_string(),
            format!(
                "HEAD {} 200 token",
                manifest("wordpress/openverse-api", "latest")
            ),
        ]
    );
    let token_request = &registry_requests(&world)[1];
    assert_eq!(
        token_request.query,
        "service=ghcr.io&scope=repository%3Awordpress%2Fopenverse-catalog%3Apull"
    );
    // Each call is journaled by its URL; the token is in a header only.
    let calls: Vec<(String, String)> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Http {
                service,
                method,
                url,
                ..
            } if service == "registry" => Some((method, url)),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert_eq!(calls[0].0, "HEAD");
    assert_eq!(calls[1].0, "GET");
    assert!(calls[1].1.contains("/token?service=ghcr.io"));
    assert!(!journal_text(&out.dir).contains(TOKEN_PREFIX));
    out.lacks(TOKEN_PREFIX);
}

#[test]
fn a_published_release_is_tagged_soon_after() {
    let world = world_with(Scenario::Calm, Faults::default());
    let out = against(
        &world,
        &format!(
            r#"
            {TAKES_OVER}
            github.publish_release(github.draft_release("catalog-"));
            wait_until("the image", "10s", "100ms", || registry.has_tag("{CATALOG}", "{DRAFT_TAG}"));
            print("built");
        "#
        ),
    )
    .run();
    out.success().stdout_has("built");
    assert!(world.image_has_tag(CATALOG, DRAFT_TAG));
}

#[test]
fn image_late_tags_the_release_seconds_after_publishing() {
    let world = world_with(Scenario::ImageLate, Faults::default());
    let started = Instant::now();
    let out = against(
        &world,
        &format!(
            r#"
            {TAKES_OVER}
            github.publish_release(github.draft_release("catalog-"));
            print(`at once ${{registry.has_tag("{CATALOG}", "{DRAFT_TAG}")}}`);
            wait_until("the image", "20s", "200ms", || registry.has_tag("{CATALOG}", "{DRAFT_TAG}"));
            print("built");
        "#
        ),
    )
    .run();
    out.success()
        .stdout_has("at once false")
        .stdout_has("built");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2_500) && took < Duration::from_secs(15),
        "{took:?}"
    );
}

#[test]
fn image_missing_never_tags_the_release() {
    let world = world_with(Scenario::ImageMissing, Faults::default());
    let out = against(
        &world,
        &format!(
            r#"
            {TAKES_OVER}
            github.publish_release(github.draft_release("catalog-"));
            print(`rollback image ${{registry.has_tag("{CATALOG}", "{PUBLISHED_TAG}")}}`);
            wait_until("the image", "2s", "200ms", || registry.has_tag("{CATALOG}", "{DRAFT_TAG}"));
        "#
        ),
    )
    .run();
    out.code(1)
        .stdout_has("rollback image true")
        .stderr_has("timed out");
    assert!(!world.image_has_tag(CATALOG, DRAFT_TAG));
    assert!(world
        .changes()
        .contains(&"github: published release catalog-2024.05.02.10.00.00".to_string()));
}

#[test]
fn a_failing_registry_is_an_error_that_says_what_to_do() {
    let faults = Faults {
        registry_status: Some(500),
        ..Faults::default()
    };
    let world = world_with(Scenario::Calm, faults);
    let out = against(
        &world,
        &format!(r#"let there = registry.has_tag("{CATALOG}", "{PUBLISHED_TAG}"); print(`got ${{there}}`);"#),
    )
    .run();
    out.code(1)
        .stdout_lacks("got ")
        .stderr_has(&format!(
            "cannot tell whether {CATALOG}:{PUBLISHED_TAG} exists: the registry at {} answered 500 for HEAD {}/v2/{CATALOG_NAME}/manifests/{PUBLISHED_TAG}",
            world.registry_url(),
            world.registry_url()
        ))
        .stderr_has("try again in a while")
        .stderr_has("OVSCRIPT_REGISTRY_URL")
        .stderr_has("does not mean the tag is missing")
        .stderr_has("script.rhai:1:");
}

#[test]
fn a_registry_that_does_not_answer_is_an_error() {
    // A port where nothing listens: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let image = format!("127.0.0.1:{port}/wordpress/openverse-catalog");
    let out = Test::new()
        .script(&format!(r#"registry.has_tag("{image}", "latest");"#))
        .run();
    // On this machine plain HTTP, as docker does.
    out.code(1)
        .stderr_has(&format!(
            "cannot reach registry at http://127.0.0.1:{port}/v2/wordpress/openverse-catalog/manifests/latest"
        ))
        .stderr_has("OVSCRIPT_REGISTRY_URL");
}

#[test]
fn the_configured_url_replaces_the_images_registry() {
    let world = world_with(Scenario::Calm, Faults::default());
    // The image names a registry that does not exist; the mirror of the configuration answers.
    let out = Test::new()
        .file(
            "ovscript.toml",
            &format!("[registry]\nurl = \"{}/\"\ntimeout = 5\n", world.registry_url()),
        )
        .script(&format!(
            r#"print(`mirror ${{registry.has_tag("registry.invalid/{CATALOG_NAME}", "{PUBLISHED_TAG}")}}`);"#
        ))
        .run();
    out.success().stdout_has("mirror true");
    let requests = registry_requests(&world);
    assert_eq!(requests.len(), 3, "{:?}", summary(&requests));
    assert_eq!(
        requests[2].path,
        format!("/v2/{CATALOG_NAME}/manifests/{PUBLISHED_TAG}")
    );
}

#[test]
fn a_badly_written_image_or_tag_is_named() {
    Test::new()
        .script(r#"registry.has_tag("wordpress/openverse-catalog", "latest");"#)
        .run()
        .code(1)
        .stderr_has("registry.has_tag: `wordpress/openverse-catalog` names no registry: write its host first, like ghcr.io/wordpress/openverse-catalog");
    Test::new()
        .script(&format!(
            r#"registry.has_tag("{CATALOG}:latest", "latest");"#
        ))
        .run()
        .code(1)
        .stderr_has("give the image without its tag");
    Test::new()
        .script(&format!(r#"registry.has_tag("{CATALOG}", "rel 1");"#))
        .run()
        .code(1)
        .stderr_has("`rel 1` is not a tag");
}

#[test]
fn ctrl_c_interrupts_a_registry_that_hangs() {
    let faults = Faults {
        delay: Some(Duration::from_secs(30)),
        ..Faults::default()
    };
    let world = world_with(Scenario::Calm, faults);
    let test = against(
        &world,
        &format!(r#"step("Look for the image", || registry.has_tag("{CATALOG}", "latest"));"#),
    )
    .env("OVSCRIPT_REGISTRY_TIMEOUT", "120");
    let child = test
        .prepare(&["run", "script.rhai"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !journal_events_lenient(test.path())
        .iter()
        .any(|e| matches!(e, Event::StepStart { .. }))
    {
        assert!(Instant::now() < deadline, "the step did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let interrupted = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(interrupted.elapsed() < Duration::from_secs(5), "{stderr}");
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("while waiting for registry"), "{stderr}");
}

#[test]
fn a_rehearsal_points_the_registry_at_the_world() {
    // image-late: 3 s of real time, six minutes on the rehearsal's clock.
    let out = Test::new()
        .flag("--rehearse=image-late")
        .flag("--yes")
        .script(&format!(
            r#"
            print(`before ${{registry.has_tag("{CATALOG}", "{PUBLISHED_TAG}")}}`);
            {TAKES_OVER}
            github.publish_release(github.draft_release("catalog-"));
            wait_until("the image", "30m", "30s", || registry.has_tag("{CATALOG}", "{DRAFT_TAG}"));
            print("built");
        "#
        ))
        .run();
    out.success().stdout_has("before true").stdout_has("built");
    let out = Test::new()
        .flag("--rehearse=image-missing")
        .script(&format!(
            r#"
            {TAKES_OVER}
            github.publish_release(github.draft_release("catalog-"));
            wait_until("the image", "5m", "30s", || registry.has_tag("{CATALOG}", "{DRAFT_TAG}"));
        "#
        ))
        .run();
    out.code(1).stderr_has("timed out after");
}

// --- a real registry -------------------------------------------------------------------------

/// The real registry tools/with-registry.sh started, as `http://127.0.0.1:PORT`. Not there: the
/// caller skips its test with a message, except in CI, where that is a failure.
fn real_registry() -> Option<String> {
    if let Some(url) = std::env::var("OVSCRIPT_TEST_REGISTRY_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Some(url.trim().trim_end_matches('/').to_string());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "OVSCRIPT_TEST_REGISTRY_URL is not set: CI must run the tests through tools/test (tools/with-registry.sh)"
    );
    eprintln!("skipped: no real registry; run through tools/test or tools/with-registry.sh");
    None
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Uploads a blob (POST to start, PUT with its digest to finish); returns its descriptor.
fn push_blob(
    client: &reqwest::blocking::Client,
    url: &str,
    name: &str,
    media_type: &str,
    bytes: &[u8],
) -> Value {
    let digest = sha256(bytes);
    let started = client
        .post(format!("{url}/v2/{name}/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(started.status(), 202, "{:?}", started.text());
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let location = if location.starts_with('/') {
        format!("{url}{location}")
    } else {
        location
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let finished = client
        .put(format!("{location}{separator}digest={digest}"))
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(finished.status(), 201, "{:?}", finished.text());
    json!({ "mediaType": media_type, "digest": digest, "size": bytes.len() })
}

/// Pushes a one-layer OCI image as `name:tag`.
fn push_image(url: &str, name: &str, tag: &str) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let layer = push_blob(
        &client,
        url,
        name,
        "application/vnd.oci.image.layer.v1.tar",
        b"a layer of the ovscript test image",
    );
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": [layer["digest"]] },
    });
    let config = push_blob(
        &client,
        url,
        name,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).unwrap(),
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    });
    let pushed = client
        .put(format!("{url}/v2/{name}/manifests/{tag}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .unwrap();
    assert_eq!(pushed.status(), 201, "{:?}", pushed.text());
}

#[test]
fn a_real_registry_answers_for_a_pushed_image() {
    let Some(url) = real_registry() else {
        return;
    };
    let host = url
        .split_once("://")
        .map_or(url.as_str(), |(_, host)| host)
        .to_string();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("ovscript-test/catalog-{nanos}");
    push_image(&url, &name, "rel-2024.05.02.10.00.00");
    let image = format!("{host}/{name}");
    let out = Test::new()
        .script(&format!(
            r#"
            print(`pushed ${{registry.has_tag("{image}", "rel-2024.05.02.10.00.00")}}`);
            print(`other ${{registry.has_tag("{image}", "rel-2024.05.03.10.00.00")}}`);
            print(`unknown repository ${{registry.has_tag("{host}/ovscript-test/nothing-{nanos}", "latest")}}`);
        "#
        ))
        .run();
    out.success()
        .stdout_has("pushed true")
        .stdout_has("other false")
        .stdout_has("unknown repository false");
    let statuses: Vec<(String, u16)> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Http {
                service,
                method,
                status,
                ..
            } if service == "registry" => Some((method, status.expect("a status"))),
            _ => None,
        })
        .collect();
    // No auth on this registry: no challenge, no token.
    assert_eq!(
        statuses,
        [
            ("HEAD".to_string(), 200),
            ("HEAD".to_string(), 404),
            ("HEAD".to_string(), 404)
        ]
    );
}
