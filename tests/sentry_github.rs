//! `sentry.*`, `github.*` and `http.get` as a runbook uses them, run by the real binary against
//! the simulated Sentry and GitHub (`ovscript::world::World`): what the script gets back, what
//! the fakes received and how they changed, and what the operator reads when something fails.

use chrono::{Duration as Span, FixedOffset, Utc};
use serde_json::json;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use ovscript::journal::Event;
use ovscript::world::{Credentials, Faults, NewIssue, Request, Scenario, World};

use crate::test::{journal_text, Output, Test, TAKES_OVER};

const CATALOG_DRAFT: &str = "catalog-2024.05.02.10.00.00";
const CATALOG_DRAFT_ID: u64 = 150_100_033;
/// The first number the world gives a new PR: publishing a draft opens its changelog PR.
const FIRST_NEW_PR: u64 = 4242;

fn world() -> World {
    world_with(Scenario::Calm, Faults::default())
}

fn world_with(scenario: Scenario, faults: Faults) -> World {
    World::start_with(scenario, faults, Credentials::default()).expect("world")
}

/// A run of `script` in `world`.
fn against(world: &World, script: &str) -> Test {
    Test::new().script(script).world(world)
}

/// `against`, with the deployment taken over first: what a publish or a dispatch needs.
fn deploying(world: &World, script: &str) -> Test {
    Test::new()
        .deploying()
        .script(&format!("{TAKES_OVER}\n{script}"))
        .world(world)
}

fn requests_of(world: &World, service: &str) -> Vec<Request> {
    world
        .requests()
        .into_iter()
        .filter(|r| r.service == service)
        .collect()
}

/// The lines the script printed after `prefix`, in order.
fn printed(out: &Output, prefix: &str) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}

fn issue_seen(title: &str, ago: Span) -> NewIssue {
    let mut issue = NewIssue::new(title);
    issue.first_seen = Utc::now() - Span::days(1);
    issue.last_seen = Utc::now() - ago;
    issue
}

#[test]
fn errors_since_returns_only_recent_issues_from_every_page() {
    let faults = Faults {
        sentry_page_cap: Some(2),
        sentry_old_issues: Some(7),
        ..Faults::default()
    };
    let world = world_with(Scenario::SentryErrors, faults);
    for (title, minutes) in [("Recent A", 5), ("Recent B", 12), ("Recent C", 25)] {
        world.sentry_add_issue(issue_seen(title, Span::minutes(minutes)));
    }
    world.sentry_add_issue(issue_seen("Before the window", Span::minutes(45)));
    let out = against(
        &world,
        r#"
        let errors = sentry.errors_since("30m");
        print(`found ${errors.len()}`);
        for e in errors {
            print(`issue ${e.title} | ${type_of(e.count)} ${e.count} | ${e.level} | ${e.id} | ${e.last_seen}`);
        }
        let keys = errors[0].keys();
        keys.sort();
        print(`keys ${keys}`);
        print(`sum ${errors.reduce(|sum, e| sum + e.count, 0)}`);
    "#,
    )
    .run();
    out.success().stdout_has("found 5");
    let titles: Vec<String> = printed(&out, "issue ")
        .iter()
        .map(|l| l.split(" | ").next().unwrap().to_string())
        .collect();
    for expected in [
        "Recent A",
        "Recent B",
        "Recent C",
        "ProgrammingError: column \"standardized_popularity\" does not exist",
        "AttributeError: 'NoneType' object has no attribute 'get'",
    ] {
        assert!(
            titles.iter().any(|t| t == expected),
            "{expected} missing from {titles:?}"
        );
    }
    assert!(printed(&out, "issue ").iter().all(|l| l.contains("| i64 ")));
    out.stdout_has(
        r#"keys ["count", "culprit", "first_seen", "id", "last_seen", "level", "permalink", "title"]"#,
    );
    // Two scenario errors counted 12 each, three added issues counted 1 each.
    out.stdout_has("sum 27");
    let pages = requests_of(&world, "sentry");
    assert!(pages.len() >= 3, "five issues, two a page: {pages:?}");
    assert!(pages.iter().all(|r| r.status == 200 && r.authorized));
    assert!(pages[1..].iter().all(|r| r.query.contains("cursor=")));
}

#[test]
fn errors_since_takes_an_rfc3339_time_in_any_offset() {
    let world = world();
    world.sentry_add_issue(issue_seen("Inside the window", Span::minutes(50)));
    world.sentry_add_issue(issue_seen("Outside the window", Span::minutes(70)));
    let paris = FixedOffset::east_opt(2 * 3600).unwrap();
    let since = (Utc::now() - Span::hours(1))
        .with_timezone(&paris)
        .to_rfc3339();
    assert!(since.ends_with("+02:00"), "{since}");
    let out = against(
        &world,
        &format!(r#"for e in sentry.errors_since("{since}") {{ print(`issue ${{e.title}}`); }}"#),
    )
    .run();
    out.success();
    assert_eq!(printed(&out, "issue "), vec!["Inside the window"]);

    against(&world, r#"sentry.errors_since("after lunch");"#)
        .run()
        .code(1)
        .stderr_has("`after lunch` is neither a duration like \"30m\" nor an RFC 3339 time");
}

#[test]
fn draft_release_finds_the_newest_draft_beyond_the_first_page() {
    let world = world();
    let out = against(
        &world,
        r#"
        let draft = github.draft_release("catalog-");
        print(`draft ${draft.tag_name} ${draft.id} ${draft.draft} ${draft.created_at}`);
        print(`none ${github.draft_release("nothing-") == ()}`);
    "#,
    )
    .run();
    out.success()
        .stdout_has(&format!("draft {CATALOG_DRAFT} {CATALOG_DRAFT_ID} true"))
        .stdout_has("none true");
    let lists: Vec<Request> = requests_of(&world, "github")
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert!(
        lists.iter().any(|r| r.query.contains("page=2")),
        "the catalog draft is on page 2: {lists:?}"
    );
    assert!(lists.iter().all(|r| r.authorized));
}

#[test]
fn a_published_release_gets_its_changelog_pr_approved() {
    let world = world();
    let out = deploying(
        &world,
        r#"
        let draft = github.draft_release("catalog-");
        print(`before ${github.changelog_pr(draft.tag_name) == ()}`);
        let published = github.publish_release(draft);
        print(`published ${published.tag_name} draft=${published.draft} at=${published.published_at}`);
        let pr = github.changelog_pr(draft.tag_name);
        print(`pr #${pr.number} ${pr.title} ${pr.head.ref}`);
        github.approve_pr(pr.number);
    "#,
    )
    .run();
    out.success()
        .stdout_has("before true")
        .stdout_has(&format!("published {CATALOG_DRAFT} draft=false at=20"))
        .stdout_has(&format!(
            "pr #{FIRST_NEW_PR} Publish changelog for {CATALOG_DRAFT} changelog/{CATALOG_DRAFT}"
        ));
    assert_eq!(world.release(CATALOG_DRAFT).unwrap()["draft"], false);
    assert_eq!(world.approved_prs(), vec![FIRST_NEW_PR]);
    let patch = requests_of(&world, "github")
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("a PATCH");
    assert_eq!(
        patch.path,
        format!("/repos/WordPress/openverse/releases/{CATALOG_DRAFT_ID}")
    );
    // The tag confirmed is pinned: release-drafter may rewrite the draft meanwhile.
    assert_eq!(
        patch.body,
        Some(json!({"draft": false, "tag_name": CATALOG_DRAFT}))
    );
    let journal = out.events();
    assert!(journal.iter().any(|e| matches!(e, Event::Http {
        method,
        status: Some(200),
        service,
        ..
    } if method == "PATCH" && service == "github")));
}

#[test]
fn a_dry_run_reads_but_changes_nothing() {
    let world = world();
    let out = against(
        &world,
        r#"
        let draft = github.draft_release("catalog-");
        let published = github.publish_release(draft);
        print(`published draft=${published.draft}`);
        github.approve_pr(4240);
        github.dispatch_workflow(github.infra_repo(), "deploy-catalog.yml", "main", #{ tag: "rel-x" });
        print(`opened ${github.open_pr(github.infra_repo(), "deploy/x", "main", "Deploy x", "body") == ()}`);
    "#,
    )
    .flag("--dry-run")
    .run();
    out.success()
        .stdout_has(&format!(
            "would: PATCH /repos/WordPress/openverse/releases/{CATALOG_DRAFT_ID} draft=false (publish release {CATALOG_DRAFT})"
        ))
        .stdout_has("published draft=false")
        .stdout_has("would: POST /repos/WordPress/openverse/pulls/4240/reviews event=APPROVE")
        .stdout_has(r#"would: POST /repos/WordPress/openverse-infrastructure/actions/workflows/deploy-catalog.yml/dispatches ref=main inputs={"tag":"rel-x"}"#)
        .stdout_has("would: POST /repos/WordPress/openverse-infrastructure/pulls deploy/x -> main: Deploy x")
        .stdout_has("opened true");
    let github = requests_of(&world, "github");
    assert!(!github.is_empty(), "the reads still happen");
    assert!(
        github.iter().all(|r| r.method == "GET"),
        "a dry run sent {github:?}"
    );
    assert_eq!(world.release(CATALOG_DRAFT).unwrap()["draft"], true);
    assert!(world.changes().is_empty(), "{:?}", world.changes());
    let woulds = out
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Would { .. }))
        .count();
    assert_eq!(woulds, 4);
}

#[test]
fn latest_release_gives_the_rollback_tag() {
    let world = world();
    let out = against(
        &world,
        r#"
        for prefix in ["catalog-", "ingestion_server-"] {
            let stable = github.latest_release(prefix);
            print(`latest ${stable.tag_name} ${stable.rollback_tag} draft=${stable.draft}`);
        }
        print(`none ${github.latest_release("nothing-") == ()}`);
    "#,
    )
    .run();
    out.success()
        .stdout_has("latest catalog-2024.04.01.12.00.00 rel-2024.04.01.12.00.00 draft=false")
        .stdout_has(
            "latest ingestion_server-2024.04.02.09.30.00 rel-2024.04.02.09.30.00 draft=false",
        )
        .stdout_has("none true");
}

#[test]
fn approving_ones_own_pr_says_someone_else_must() {
    let faults = Faults {
        github_own_pr: true,
        ..Faults::default()
    };
    let world = world_with(Scenario::Calm, faults);
    let out = against(&world, "github.approve_pr(4240);").run();
    out.code(1)
        .stderr_has("GitHub refused to approve PR #4240 of WordPress/openverse")
        .stderr_has("Can not approve your own pull request")
        .stderr_has("someone else must approve it");
    assert!(world.approved_prs().is_empty());
}

#[test]
fn a_workflow_is_dispatched_with_its_ref_and_inputs() {
    let world = world();
    let out = deploying(
        &world,
        r#"github.dispatch_workflow(github.infra_repo(), "deploy-catalog.yml", "main", #{ tag: "rel-2024.04.01.12.00.00", force: true });"#,
    )
    .run();
    out.success();
    assert_eq!(
        world.dispatches(),
        vec![json!({
            "repo": "WordPress/openverse-infrastructure",
            "workflow": "deploy-catalog.yml",
            "ref": "main",
            "inputs": {"tag": "rel-2024.04.01.12.00.00", "force": true},
        })]
    );
    assert!(out.events().iter().any(|e| matches!(e, Event::Http {
        method,
        status: Some(204),
        ..
    } if method == "POST")));
}

#[test]
fn a_pr_is_opened_in_the_infrastructure_repository() {
    let world = world();
    let out = against(
        &world,
        r#"
        let pr = github.open_pr(github.infra_repo(), "deploy/catalog-x", "main", "Deploy catalog x", "The bump.");
        print(`opened #${pr.number} ${pr.html_url} ${pr.keys().len()}`);
    "#,
    )
    .run();
    out.success()
        .stdout_has("opened #900 https://github.com/WordPress/openverse-infrastructure/pull/900 2");
    let opened = world.opened_prs();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["head"], "deploy/catalog-x");
    assert_eq!(opened[0]["base"], "main");
    assert_eq!(opened[0]["title"], "Deploy catalog x");
    assert_eq!(opened[0]["body"], "The bump.");

    // GitHub's validation errors reach the operator: a second PR from the same branch.
    against(
        &world,
        r#"github.open_pr(github.infra_repo(), "deploy/catalog-x", "main", "Again", "");"#,
    )
    .run()
    .code(1)
    .stderr_has("github answered 422")
    .stderr_has("A pull request already exists");
}

#[test]
fn a_wrong_token_names_its_variable_and_is_never_shown() {
    let world = world();
    let secret = "ghp_wrongTokenValue12345";
    let out = against(&world, r#"github.draft_release("catalog-");"#)
        .env("OVSCRIPT_GITHUB_TOKEN", secret)
        .run();
    out.code(1)
        .stderr_has("github refused the credentials (HTTP 401")
        .stderr_has("Bad credentials")
        .stderr_has("OVSCRIPT_GITHUB_TOKEN")
        .lacks(secret);
    assert!(!journal_text(&out.dir).contains(secret));

    let secret = "sntrys_wrongTokenValue6789";
    let out = against(&world, r#"sentry.errors_since("1h");"#)
        .env("OVSCRIPT_SENTRY_TOKEN", secret)
        .run();
    out.code(1)
        .stderr_has("sentry refused the credentials (HTTP 401")
        .stderr_has("Invalid token")
        .stderr_has("OVSCRIPT_SENTRY_TOKEN")
        .lacks(secret);
    assert!(!journal_text(&out.dir).contains(secret));
    assert!(world.requests().iter().all(|r| !r.authorized));
}

#[test]
fn what_is_not_found_is_named() {
    let world = world();
    against(&world, r#"github.draft_release("catalog-");"#)
        .env("OVSCRIPT_GITHUB_REPO", "WordPress/openverse-nope")
        .run()
        .code(1)
        .stderr_has("the releases of WordPress/openverse-nope (OVSCRIPT_GITHUB_REPO) not found: github answered 404");
    deploying(
        &world,
        r#"github.dispatch_workflow(github.infra_repo(), "deploy-catalog", "main", #{});"#,
    )
    .run()
    .code(1)
    .stderr_has(
        "workflow deploy-catalog of WordPress/openverse-infrastructure on ref main not found",
    );
    against(&world, "github.approve_pr(31337);")
        .run()
        .code(1)
        .stderr_has("PR #31337 of WordPress/openverse not found");
    against(&world, r#"sentry.errors_since("1h");"#)
        .env("OVSCRIPT_SENTRY_ORG", "closedverse")
        .run()
        .code(1)
        .stderr_has("the issues of Sentry project closedverse/openverse-catalog (OVSCRIPT_SENTRY_ORG / OVSCRIPT_SENTRY_PROJECT) not found: sentry answered 404");
    // Sentry's issue search answers 403 for a project it does not show.
    against(&world, r#"sentry.errors_since("1h");"#)
        .env("OVSCRIPT_SENTRY_PROJECT", "openverse-nope")
        .run()
        .code(1)
        .stderr_has("sentry refused access to project openverse/openverse-nope (HTTP 403")
        .stderr_has("OVSCRIPT_SENTRY_PROJECT")
        .stderr_has("OVSCRIPT_SENTRY_TOKEN");
}

#[test]
fn errors_since_filters_what_a_lax_server_sends() {
    // The search ignores the window and the project: old issues and another project's come back.
    let faults = Faults {
        sentry_ignores_filters: true,
        ..Faults::default()
    };
    let world = world_with(Scenario::SentryErrors, faults);
    let out = against(
        &world,
        r#"for e in sentry.errors_since("30m") { print(`got ${e.title} ${e.last_seen}`); }"#,
    )
    .run();
    out.success();
    let got = printed(&out, "got ");
    assert_eq!(
        got.len(),
        2,
        "only the two new errors of the project: {got:?}"
    );
    let journal = journal_text(&out.dir);
    assert!(
        journal.contains("/organizations/openverse/issues/"),
        "{journal}"
    );
}

#[test]
fn a_server_failure_is_shown_with_its_words() {
    let faults = Faults {
        github_status: Some(500),
        sentry_status: Some(502),
        ..Faults::default()
    };
    let world = world_with(Scenario::Calm, faults);
    against(&world, r#"github.latest_release("catalog-");"#)
        .run()
        .code(1)
        .stderr_has("github answered 500 for GET")
        .stderr_has("Server Error: the server failed; check its health and try again");
    against(&world, r#"sentry.errors_since("1h");"#)
        .run()
        .code(1)
        .stderr_has("sentry answered 502 for GET")
        .stderr_has("Internal Error");
}

#[test]
fn broken_json_is_an_error_that_says_so() {
    let faults = Faults {
        malformed_json: true,
        ..Faults::default()
    };
    let world = world_with(Scenario::Calm, faults);
    against(&world, r#"github.draft_release("catalog-");"#)
        .run()
        .code(1)
        .stderr_has("github sent an answer that cannot be read from")
        .stderr_has("not JSON");
    against(&world, r#"sentry.errors_since("1h");"#)
        .run()
        .code(1)
        .stderr_has("sentry sent an answer that cannot be read from")
        .stderr_has("not JSON");
}

#[test]
fn a_slow_github_times_out_with_the_setting_to_raise() {
    let faults = Faults {
        delay: Some(Duration::from_secs(4)),
        ..Faults::default()
    };
    let world = world_with(Scenario::Calm, faults);
    let started = Instant::now();
    against(&world, r#"github.draft_release("catalog-");"#)
        .env("OVSCRIPT_GITHUB_TIMEOUT", "1")
        .run()
        .code(1)
        .stderr_has("github did not answer within 1s at")
        .stderr_has("raise `timeout` in [github]");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_refused_connection_names_the_url() {
    let dead = {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let world = world();
    against(&world, r#"github.draft_release("catalog-");"#)
        .env("OVSCRIPT_GITHUB_URL", &dead)
        .run()
        .code(1)
        .stderr_has(&format!(
            "cannot reach github at {dead}/repos/WordPress/openverse/releases"
        ))
        .stderr_has("check OVSCRIPT_GITHUB_URL");
    against(&world, r#"sentry.errors_since("1h");"#)
        .env("OVSCRIPT_SENTRY_URL", &dead)
        .run()
        .code(1)
        .stderr_has(&format!(
            "cannot reach sentry at {dead}/api/0/organizations/openverse/issues/"
        ))
        .stderr_has("check OVSCRIPT_SENTRY_URL");
    Test::new()
        .script(&format!(r#"http.get("{dead}/health");"#))
        .run()
        .code(1)
        .stderr_has(&format!("cannot reach {dead}/health"));
}

#[test]
fn wrong_arguments_show_what_the_function_takes() {
    let world = world();
    against(&world, r#"github.approve_pr("4240");"#)
        .run()
        .code(2)
        .stderr_has("argument 1 is a string, which it does not take; it can be called as")
        .stderr_has("github.approve_pr(number: int)");
    against(&world, r#"let n = "4240"; github.approve_pr(n);"#)
        .run()
        .code(1)
        .stderr_has("it can be called as:")
        .stderr_has("github.approve_pr(number: int)");
    against(&world, "sentry.errors_since();")
        .run()
        .code(2)
        .stderr_has("sentry.errors_since(since: string)");
    against(&world, r#"github.draft_release("catalog-", "extra");"#)
        .run()
        .code(2)
        .stderr_has("github.draft_release(prefix: string)");
    // A unit literal is caught before the run, as other literals are.
    against(&world, "github.publish_release(());")
        .run()
        .code(2)
        .stderr_has("argument 1 is a unit `()`, which it does not take")
        .stderr_has("github.publish_release(release: map)");
    against(&world, r#"github.publish_release(#{ tag_name: "x" });"#)
        .run()
        .code(1)
        .stderr_has("publish_release takes a release map with its `id`");
    against(
        &world,
        r#"github.open_pr("openverse", "b", "main", "t", "");"#,
    )
    .run()
    .code(1)
    .stderr_has("`openverse` is not a repository: write it as owner/name");
    assert!(world.requests().is_empty(), "{:?}", world.requests());
}

#[test]
fn missing_settings_are_named_only_when_used() {
    Test::new()
        .script(r#"sentry.errors_since("1h");"#)
        .run()
        .code(1)
        .stderr_has("Sentry is not configured: set OVSCRIPT_SENTRY_ORG or `org`, OVSCRIPT_SENTRY_PROJECT or `project`, OVSCRIPT_SENTRY_TOKEN or `token` under [sentry]");
    Test::new()
        .script(r#"github.draft_release("catalog-");"#)
        .env("OVSCRIPT_GITHUB_TOKEN", "a-token-of-no-repository")
        .run()
        .code(1)
        .stderr_has("GitHub is not configured: set OVSCRIPT_GITHUB_REPO or `repo` under [github]");
    Test::new()
        .script(r#"print(github.infra_repo());"#)
        .run()
        .code(1)
        .stderr_has("set OVSCRIPT_GITHUB_INFRA_REPO or `infra_repo` under [github]");
}

#[test]
fn http_get_returns_any_status_with_body_and_time() {
    let world = world();
    let base = world.github_url();
    let out = Test::new()
        .script(&format!(
            r#"
            let ok = http.get("{base}/repos/WordPress/openverse");
            print(`ok ${{ok.status}} ${{type_of(ok.elapsed_ms)}} ${{ok.body.contains("WordPress/openverse")}}`);
            let missing = http.get("{base}/repos/WordPress/nope");
            print(`missing ${{missing.status}} ${{missing.body}}`);
        "#
        ))
        .run();
    out.success()
        .stdout_has("ok 200 i64 true")
        .stdout_has("missing 404 {")
        .stdout_has(r#""message":"Not Found""#);
    let gets: Vec<Option<u16>> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Http {
                service, status, ..
            } if service == "http" => Some(status),
            _ => None,
        })
        .collect();
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[1], Some(404));
    // Anonymous: no token was configured, none was sent.
    assert!(world.requests().iter().all(|r| !r.authorized));

    Test::new()
        .script(r#"http.get("ftp://example.org/x");"#)
        .run()
        .code(1)
        .stderr_has("`ftp://example.org/x` is not an http(s) URL");
}

#[test]
fn errors_since_can_ask_another_project() {
    let world = world();
    let out = against(
        &world,
        r#"
        print(`catalog ${sentry.errors_since("1h").len()}`);
        for e in sentry.errors_since("1h", "openverse-api") { print(`api ${e.title}`); }
        "#,
    )
    .run();
    out.success().stdout_has("catalog 0");
    assert_eq!(printed(&out, "api ").len(), 1, "{}", out.stdout);
    assert!(requests_of(&world, "sentry")
        .iter()
        .any(|r| r.query.contains("projectSlug=openverse-api")));
}

#[test]
fn five_thousand_new_sentry_issues_read_under_the_default_limits() {
    let world = world();
    for i in 0..5_000 {
        world.sentry_add_issue(issue_seen(
            &format!("TypeError: broken number {i}"),
            Span::minutes(2),
        ));
    }
    against(
        &world,
        r#"
        let errors = sentry.errors_since("1h");
        let broken = errors.filter(|e| e.title.starts_with("TypeError: broken"));
        print(`errors|${errors.len()}|${broken.len()}`);
        "#,
    )
    .run()
    .success()
    .stdout_has("errors|5000|5000");
}
