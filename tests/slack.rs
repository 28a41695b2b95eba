//! The team's channel: what a deploy posts to Slack, in order, as the simulated world's webhook
//! received it; nothing in a dry run; a Slack that refuses or is slow never stops a deploy nor
//! leaves a flag set; no webhook is a notice, once; and the webhook, a secret, never shows.

use serde_json::Value;

use ovscript::journal::Event;
use ovscript::world::{Scenario, World};

use crate::rehearsal::Rehearsal;
use crate::test::{journal_text, Test};

/// The operator, as git knows them in these tests.
const WHO: &str = "Ada Lovelace <ada@example.org>";
/// The part of the world's webhook that is its secret.
const SECRET: &str = "rehearsal-slack-webhook-secret";

impl Rehearsal {
    /// What the channel shows, oldest first.
    fn posts(&self) -> Vec<String> {
        self.world["slack_posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    }

    fn slack_requests(&self) -> Vec<Value> {
        self.world["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["service"] == "slack")
            .cloned()
            .collect()
    }
}

/// A rehearsal by Ada (git's identity, which the posts name).
fn rehearse(
    runbook: &str,
    scenario: &str,
    flags: &[&str],
    env: &[(&str, &str)],
) -> Option<Rehearsal> {
    let mut env = env.to_vec();
    env.extend([
        ("GIT_AUTHOR_NAME", "Ada Lovelace"),
        ("GIT_AUTHOR_EMAIL", "ada@example.org"),
    ]);
    crate::rehearsal::rehearse(runbook, scenario, flags, &env)
}

#[test]
fn a_deploy_tells_the_channel_who_deploys_which_release_and_how_it_ended() {
    let Some(r) = rehearse("catalog", "calm", &["--yes"], &[]) else {
        return;
    };
    r.out.success();
    let posts = r.posts();
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert_eq!(
        posts[0],
        format!(
            ":rocket: {WHO} is deploying catalog-2024.05.02.10.00.00 to production (catalog-airflow)."
        )
    );
    let end = format!(
        ":white_check_mark: catalog-2024.05.02.10.00.00 is deployed to production (catalog-airflow) by {WHO}, in "
    );
    assert!(posts[1].starts_with(&end), "{}", posts[1]);
    assert!(
        posts[1].ends_with("s.\nLeft to do by hand:\n• get the infrastructure PR https://github.com/WordPress/openverse-infrastructure/pull/900 reviewed and merged"),
        "{}",
        posts[1]
    );
    // Sent as Slack wants it (`<` would make a link), its path (the secret) kept out of the record.
    let requests = r.slack_requests();
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .all(|q| q["method"] == "POST" && q["path"] == "***" && q["status"] == 200));
    assert_eq!(
        requests[0]["body"]["text"],
        ":rocket: Ada Lovelace &lt;ada@example.org&gt; is deploying catalog-2024.05.02.10.00.00 to production (catalog-airflow)."
    );
    // The rehearsal's report shows them.
    r.out.stdout_has(&format!(
        "  posts to Slack:\n    :rocket: {WHO} is deploying catalog-2024.05.02.10.00.00"
    ));
    r.out
        .stdout_has("      Left to do by hand:\n      • get the infrastructure PR");
}

#[test]
fn a_dry_run_posts_nothing_and_says_what_it_would_post() {
    let Some(r) = rehearse("ingestion", "calm", &["--dry-run"], &[]) else {
        return;
    };
    r.out
        .success()
        .stdout_has(&format!("would: post to Slack: :rocket: {WHO} is deploying ingestion_server-2024.05.02.10.05.00 to production (ingestion-server).\n"))
        .stdout_has(&format!("would: post to Slack: :white_check_mark: ingestion_server-2024.05.02.10.05.00 is deployed to production (ingestion-server) by {WHO}, in "))
        .stdout_has("  posts to Slack:\n    (none)\n");
    assert!(r.posts().is_empty(), "{:?}", r.posts());
    assert!(r.slack_requests().is_empty());
}

#[test]
fn a_possible_incident_and_the_rollback_are_told_at_once() {
    let Some(r) = rehearse("catalog", "sentry-errors", &["--yes"], &[]) else {
        return;
    };
    r.out.code(1);
    let posts = r.posts();
    assert_eq!(posts.len(), 4, "{posts:#?}");
    assert!(posts[0].starts_with(":rocket: "), "{}", posts[0]);
    assert_eq!(
        posts[1],
        format!(":rotating_light: Production catalog-airflow may be disrupted: new errors since the deploy began. {WHO} is on it: a rollback to rel-2024.04.01.12.00.00 (catalog-2024.04.01.12.00.00) is offered. Treat this as a production incident.")
    );
    assert_eq!(
        posts[2],
        format!(":rewind: {WHO} is rolling production catalog-airflow back to rel-2024.04.01.12.00.00 (catalog-2024.04.01.12.00.00): the deploy-catalog-airflow.yml workflow of the infrastructure repository runs it.")
    );
    let failed = format!(":x: The production deploy of catalog-2024.05.02.10.00.00 (catalog-airflow) by {WHO} failed after ");
    assert!(posts[3].starts_with(&failed), "{}", posts[3]);
    assert!(
        posts[3].contains(": rolled back to rel-2024.04.01.12.00.00 after 2 new Sentry error(s)\nLeft to do by hand:\n• follow the deploy-catalog-airflow.yml run that rolls production back to rel-2024.04.01.12.00.00"),
        "{}",
        posts[3]
    );
}

#[test]
fn a_failed_apply_is_told_as_a_possible_incident_and_a_failure() {
    let Some(r) = rehearse("catalog", "apply-fails", &["--yes"], &[]) else {
        return;
    };
    r.out.code(1);
    let posts = r.posts();
    let kinds: Vec<&str> = posts
        .iter()
        .map(|p| p.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [":rocket:", ":rotating_light:", ":rewind:", ":x:"],
        "{posts:#?}"
    );
    assert!(
        posts[1].contains("may be disrupted: the production apply failed: just apply prod catalog-airflow failed with exit code"),
        "{}",
        posts[1]
    );
    assert!(r
        .file("environments/prod/catalog-airflow.tf")
        .contains("running_dags_cleared = false"));
}

#[test]
fn slack_refusing_or_slow_never_stops_a_deploy() {
    let cases = [
        (
            r#"{"slack_status": 400}"#,
            "could not post to Slack: Slack answered 400 `invalid_payload` (Slack could not read the message: this is a bug of ovscript's, please report it); the deploy goes on",
        ),
        (
            r#"{"slack_status": 404}"#,
            "could not post to Slack: Slack answered 404 `no_service` (the webhook is revoked, disabled or mistyped: check OVSCRIPT_SLACK_WEBHOOK, or `webhook` under [slack]); the deploy goes on",
        ),
        (
            r#"{"slack_delay": {"secs": 3, "nanos": 0}}"#,
            "could not post to Slack: Slack did not answer within 1s (raise `timeout` under [slack] if it is often slow); the deploy goes on",
        ),
    ];
    for (faults, warning) in cases {
        let env = [
            ("OVSCRIPT_TEST_WORLD_FAULTS", faults),
            ("OVSCRIPT_SLACK_TIMEOUT", "1"),
        ];
        let Some(r) = rehearse("ingestion", "calm", &["--yes"], &env) else {
            return;
        };
        r.out
            .success()
            .stderr_has(warning)
            .stdout_has("tell the team's channel how the deploy went: Slack did not take ovscript's posts (see the warnings)")
            .lacks(SECRET);
        assert_eq!(
            r.out
                .stdout
                .matches("tell the team's channel how the deploy went")
                .count(),
            1,
            "asked once, in the summary"
        );
        let applied: Vec<String> =
            std::fs::read_to_string(r.infra.join(".rehearsal/recipes.jsonl"))
                .unwrap()
                .lines()
                .filter(|l| l.contains(r#""recipe":"apply""#) && l.contains(r#""env":"prod""#))
                .map(str::to_string)
                .collect();
        assert_eq!(applied.len(), 1, "{faults}: {applied:?}");
        assert!(applied[0].contains(r#""code":0"#), "{applied:?}");
        assert!(r
            .file("environments/prod/ingestion-server.tf")
            .contains("data_refresh_cleared = false"));
        if !faults.contains("delay") {
            assert!(r.posts().is_empty(), "{faults}: {:?}", r.posts());
        }
        assert!(!journal_text(r.out.dir.as_path()).contains(SECRET));
    }
}

/// A script run with Slack's webhook at `webhook` of the world.
fn posting(world: &World, webhook: &str, script: &str) -> Test {
    Test::new()
        .world(world)
        .env("OVSCRIPT_SLACK_WEBHOOK", webhook)
        .script(script)
}

#[test]
fn a_post_reaches_the_channel_as_written_and_the_webhook_never_shows() {
    let world = World::start(Scenario::Calm).unwrap();
    let webhook = world.slack_url();
    let out = posting(
        &world,
        &webhook,
        r#"print(slack.post("a <b> & c")); print(slack.post("   "));"#,
    )
    .run();
    out.success()
        .stdout_has("true\nfalse\n")
        .stderr_has("slack.post: nothing to post (the text is empty)")
        .lacks(SECRET);
    assert_eq!(world.slack_posts(), ["a <b> & c"]);
    let sent: Vec<Value> = world
        .requests()
        .into_iter()
        .filter(|r| r.service == "slack")
        .filter_map(|r| r.body)
        .collect();
    assert_eq!(sent, [serde_json::json!({"text": "a &lt;b&gt; &amp; c"})]);
    let journal = journal_text(&out.dir);
    assert!(!journal.contains(SECRET), "{journal}");
    let Some(Event::SlackPost { text, outcome, .. }) = out
        .events()
        .into_iter()
        .find(|e| matches!(e, Event::SlackPost { .. }))
    else {
        panic!("no post in the journal");
    };
    assert_eq!(text, "a <b> & c");
    assert_eq!(outcome, "posted");
    let Some(Event::Http { url, .. }) = out
        .events()
        .into_iter()
        .find(|e| matches!(e, Event::Http { service, .. } if service == "slack"))
    else {
        panic!("no call to Slack in the journal");
    };
    assert_eq!(url, "***");
}

#[test]
fn a_wrong_webhook_is_a_warning_that_does_not_name_it() {
    let world = World::start(Scenario::Calm).unwrap();
    let wrong = format!("{}-revoked", world.slack_url());
    let out = posting(
        &world,
        &wrong,
        r#"print(slack.post("hello")); print("went on");"#,
    )
    .run();
    out.success()
        .stdout_has("false\nwent on\n")
        .stderr_has("could not post to Slack: Slack answered 404 `no_service` (the webhook is revoked, disabled or mistyped: check OVSCRIPT_SLACK_WEBHOOK, or `webhook` under [slack]); the deploy goes on")
        .lacks(SECRET)
        .lacks(&wrong);
    assert!(world.slack_posts().is_empty());
    assert!(!journal_text(&out.dir).contains(SECRET));
    let Some(Event::SlackPost {
        outcome, status, ..
    }) = out
        .events()
        .into_iter()
        .find(|e| matches!(e, Event::SlackPost { .. }))
    else {
        panic!("no post in the journal");
    };
    assert_eq!((outcome.as_str(), status), ("failed", Some(404)));
}

#[test]
fn without_a_webhook_a_run_says_so_once_and_goes_on() {
    let out = Test::new()
        .script(r#"print(slack.post("one")); slack.post("two"); print("went on");"#)
        .run();
    out.success().stdout_has("false\n").stdout_has("went on\n");
    let note = "note: Slack is not configured: the team's channel is not told of this run (set OVSCRIPT_SLACK_WEBHOOK, or `webhook` under [slack])\n";
    assert_eq!(out.stdout.matches(note).count(), 1, "{}", out.stdout);
    let outcomes: Vec<String> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::SlackPost { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes, ["not configured", "not configured"]);
}

#[test]
fn a_dry_run_posts_nothing() {
    let world = World::start(Scenario::Calm).unwrap();
    let out = posting(&world, &world.slack_url(), r#"print(slack.post("hello"));"#)
        .flag("--dry-run")
        .run();
    out.success()
        .stdout_has("would: post to Slack: hello\nfalse\n")
        .lacks(SECRET);
    assert!(world.slack_posts().is_empty());
    assert!(world.requests().iter().all(|r| r.service != "slack"));
}
