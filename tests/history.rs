//! `ovscript log`: the deploy history read from the journals of real, dry and rehearsed runs, a
//! failed one, one killed before its end (an older version's, without `who`) and one with a
//! line torn by a crash; and one run as a timeline.

use serde_json::Value;

use ovscript::world::{Scenario, World};

use crate::test::{Output, Test, TAKES_OVER};

const DRAFT: &str = "catalog-2024.05.02.10.00.00";

/// Who deploys, as git knows the operator in the infrastructure checkout.
const ADA: &str = "Ada <ada@example.org>";

/// Publishes the catalog draft after asking, and leaves something to do by hand; its first
/// line takes the deployment over.
const PUBLISH: &str = r#"
let draft = github.draft_release("catalog-");
step("Publish the draft", || {
    if confirm(`Publish ${draft.tag_name}?`) {
        github.publish_release(draft);
    }
});
by_hand("merge #900");
"#;

/// A run killed in its second step, written by a version that journaled no `who`.
const KILLED: &str = r#"{"ts":"2020-01-01T00:00:00+00:00","event":"run_start","script":"scripts/catalog.rhai","sha256":"x","args":[],"dry_run":false,"run_id":"20200101T000000Z-dead0001"}
{"ts":"2020-01-01T00:00:01+00:00","event":"step_start","ordinal":1,"label":"[1]","title":"Bump"}
{"ts":"2020-01-01T00:00:02+00:00","event":"step_end","ordinal":1,"label":"[1]","title":"Bump","outcome":"ok","duration_ms":1000}
{"ts":"2020-01-01T00:00:03+00:00","event":"by_hand","what":"unpause image_data_refresh"}
{"ts":"2020-01-01T00:01:03+00:00","event":"step_start","ordinal":2,"label":"[2]","title":"Apply"}
"#;

/// A finished run whose last line but one was torn.
const TORN: &str = r#"{"ts":"2020-01-01T00:00:10+00:00","event":"run_start","script":"s.rhai","sha256":"x","args":[],"dry_run":false,"run_id":"20200101T000010Z-torn0002","who":"Bob <bob@example.org>"}
{"ts":"2020-01-01T00:00:1
{"ts":"2020-01-01T00:00:12+00:00","event":"run_end","outcome":"ok","duration_ms":2000,"by_hand":[]}
"#;

/// The history of one working directory: a dry run, a real run, a rehearsal and a failed run
/// made there, in that order, and the two journals above.
fn history() -> (World, Test) {
    let world = World::start(Scenario::Calm).unwrap();
    let test = Test::new()
        .world(&world)
        .env("USER", "ada")
        .file(".ovscript/journal/20200101T000000Z-dead0001.jsonl", KILLED)
        .file(".ovscript/journal/20200101T000010Z-torn0002.jsonl", TORN)
        .deploying()
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.org")
        .script(&format!("{TAKES_OVER}{PUBLISH}"));
    test.clone().flag("--dry-run").run().success();
    test.clone().flag("--yes").run().success();
    test.clone()
        .file(
            "look.rhai",
            r#"step("Look", || airflow.running_dags().len());"#,
        )
        .command(&["run", "--rehearse", "look.rhai"])
        .success();
    test.clone()
        .file("fail.rhai", r#"step("Fail", || { throw "boom" });"#)
        .command(&["run", "fail.rhai"])
        .code(1);
    (world, test)
}

fn runs(out: &Output) -> Vec<Value> {
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn the_history_lists_every_run_newest_first() {
    let (_world, test) = history();
    let out = test.command(&["log", "--json"]);
    out.success();
    let runs = runs(&out);
    let summary: Vec<(String, String, String, String)> = runs
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or("-").to_string();
            (
                text("script"),
                text("mode"),
                text("release"),
                text("outcome"),
            )
        })
        .collect();
    let row = |script: &str, mode: &str, release: &str, outcome: &str| {
        (
            script.to_string(),
            mode.to_string(),
            release.to_string(),
            outcome.to_string(),
        )
    };
    assert_eq!(
        summary,
        [
            row("fail.rhai", "real", "-", "error"),
            row("look.rhai", "rehearsal", "-", "ok"),
            row("script.rhai", "real", DRAFT, "ok"),
            row("script.rhai", "dry run", "-", "ok"),
            row("s.rhai", "real", "-", "ok"),
            row("scripts/catalog.rhai", "real", "-", "killed/unfinished"),
        ]
    );
    let real = &runs[2];
    assert_eq!(real["who"], ADA);
    assert_eq!(real["by_hand"], serde_json::json!(["merge #900"]));
    assert_eq!(real["finished"], true);
    assert_eq!(runs[1]["scenario"], "calm");
    assert_eq!(runs[0]["error"], "boom");
    let killed = &runs[5];
    assert_eq!(killed["who"], Value::Null, "an older journal has none");
    assert_eq!(killed["finished"], false);
    assert_eq!(killed["duration_ms"], 63_000, "up to its last line");
    assert_eq!(
        killed["by_hand"],
        serde_json::json!(["unpause image_data_refresh"])
    );
    assert_eq!(runs[4]["damaged_lines"], serde_json::json!([2]));
    out.stderr_has(
        "20200101T000010Z-torn0002.jsonl:2: not a journal line (torn by a crash?): skipped",
    );
}

#[test]
fn the_history_reads_as_a_table() {
    let (_world, test) = history();
    let out = test.command(&["log"]);
    out.success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["RUN", "STARTED", "WHO", "SCRIPT", "MODE", "RELEASE", "OUTCOME", "TOOK"]
    );
    let row = |text: &str| -> Vec<String> {
        let line = lines.iter().find(|l| l.contains(text)).unwrap();
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("20200101T000000Z-dead0001"),
        [
            "20200101T000000Z-dead0001",
            "2020-01-01 00:00:00 UTC",
            "-",
            "scripts/catalog.rhai",
            "real",
            "-",
            "killed/unfinished",
            "1m03s+",
        ]
    );
    assert_eq!(
        row("20200101T000010Z-torn0002"),
        [
            "20200101T000010Z-torn0002",
            "2020-01-01 00:00:10 UTC",
            "Bob <bob@example.org>",
            "s.rhai",
            "real",
            "-",
            "ok",
            "2.0s",
        ]
    );
    out.stdout_has("killed/unfinished  1m03s+\n    left by hand: unpause image_data_refresh\n");
    assert_eq!(row(DRAFT)[2..7], [ADA, "script.rhai", "real", DRAFT, "ok"]);
    let published = lines.iter().position(|l| l.contains(DRAFT)).unwrap();
    assert_eq!(lines[published + 1], "    left by hand: merge #900");
    assert_eq!(
        row("look.rhai")[3..7],
        ["look.rhai", "rehearsal (calm)", "-", "ok"]
    );
    assert_eq!(
        row("dry run")[2..7],
        [ADA, "script.rhai", "dry run", "-", "ok"]
    );
    assert_eq!(
        row("fail.rhai")[2..7],
        [ADA, "fail.rhai", "real", "-", "error"]
    );
}

#[test]
fn one_run_reads_as_a_timeline() {
    let (world, test) = history();
    let json = test.command(&["log", "--json"]);
    let id = runs(&json)[2]["run_id"].as_str().unwrap().to_string();
    let out = test.command(&["log", &id]);
    out.success()
        .stdout_has(&format!(
            "run {id}: script.rhai\n  mode:     real\n  who:      {ADA}\n"
        ))
        .stdout_has(&format!("  release:  {DRAFT}\n  outcome:  ok\n"))
        .stdout_has("  left by hand:\n    - merge #900\n\ntimeline:\n");
    let moments: Vec<&str> = out
        .stdout
        .split("timeline:\n")
        .nth(1)
        .unwrap()
        .lines()
        .map(|l| l[12..].trim_end())
        .collect();
    let release = world.release(DRAFT).unwrap();
    let patch = format!(
        "github PATCH {}/repos/WordPress/openverse/releases/{}: 200",
        world.github_url(),
        release["id"]
    );
    let expected_order = [
        "started script.rhai",
        "[1] Publish the draft",
        &format!("asked \"Publish {DRAFT}?\": yes (--yes)"),
        &patch,
        &format!("published the release {DRAFT} of WordPress/openverse"),
        "left to do by hand: merge #900",
    ];
    let mut at = 0;
    for expected in expected_order {
        let found = moments[at..]
            .iter()
            .position(|m| *m == expected)
            .unwrap_or_else(|| panic!("{expected:?} not in order in {moments:#?}"));
        at += found + 1;
    }
    assert!(moments
        .iter()
        .any(|m| m.starts_with("[1] Publish the draft: done (")));
    assert!(moments.last().unwrap().starts_with("ended: ok ("));
    assert!(
        moments.iter().all(|m| !m.contains(" GET ")),
        "reads are left out: {moments:#?}"
    );

    let json = test.command(&["log", "--json", &id]);
    json.success();
    let value: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["run"]["run_id"], id.as_str());
    assert_eq!(value["run"]["release"], DRAFT);
    let whats: Vec<&str> = value["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["what"].as_str().unwrap())
        .collect();
    assert!(
        whats.contains(&"left to do by hand: merge #900"),
        "{whats:?}"
    );
    assert!(value["timeline"][0]["at_ms"].is_i64());
}

#[test]
fn a_killed_run_and_a_failed_one_say_how_far_they_got() {
    let (_world, test) = history();
    test.command(&["log", "20200101T000000Z-dead0001"])
        .success()
        .stdout_has("run 20200101T000000Z-dead0001: scripts/catalog.rhai\n  mode:     real\n  who:      -\n  started:  2020-01-01 00:00:00 UTC\n  release:  -\n  outcome:  killed/unfinished\n  took:     1m03s+\n  left by hand:\n    - unpause image_data_refresh\n\ntimeline:\n     +0.0s  started scripts/catalog.rhai\n     +1.0s  [1] Bump\n     +2.0s  [1] Bump: done (1.0s)\n     +3.0s  left to do by hand: unpause image_data_refresh\n    +1m03s  [2] Apply\n");
    let json = test.command(&["log", "--json"]);
    let failed = runs(&json)[0]["run_id"].as_str().unwrap().to_string();
    test.command(&["log", &failed])
        .success()
        .stdout_has("  outcome:  error: boom\n")
        .stdout_has("[1] Fail: FAILED: boom (");
}

#[test]
fn an_empty_history_and_an_unknown_run_are_said_plainly() {
    let test = Test::new();
    test.command(&["log"])
        .success()
        .stdout_has("no runs in ")
        .stdout_has(
        ".ovscript/journal: runs are journaled in the working directory they are started from\n",
    );
    assert_eq!(test.command(&["log", "--json"]).stdout, "[]\n");
    test.command(&["log", "nosuchrun"])
        .code(2)
        .stderr_has("no journal for run nosuchrun at ")
        .stderr_has("(`ovscript log` lists the runs of this working directory)");
    test.command(&["log", "../x"])
        .code(2)
        .stderr_has("`../x` is not a run id: `ovscript log` lists them");
}

/// A deploy's first line (its deployment taken over) and nothing else: a run the team's history
/// records.
fn deployer(test: Test) -> Test {
    test.script(&format!("{TAKES_OVER}\nprint(\"deployed\");"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@x")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@x")
}

/// Another operator's checkout of the same infrastructure origin.
fn second_checkout(origin: &std::path::Path) -> Test {
    let test = Test::new();
    crate::test::git(
        test.path(),
        &[
            "clone",
            "--quiet",
            "--branch",
            "main",
            origin.to_str().unwrap(),
            "infra",
        ],
    );
    deployer(test.env("OVSCRIPT_INFRA_DIR", "infra"))
}

/// The run ids of the team's history, in the order `log --team` gives them.
fn team_runs(test: &Test) -> Vec<(String, String, String)> {
    let out = test.command(&["log", "--team", "--json"]);
    let records: Value = serde_json::from_str(&out.success().stdout).unwrap();
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap_or_default().to_string();
            (text("run_id"), text("outcome"), text("ci"))
        })
        .collect()
}

/// Two laptops and a CI job deploy to one infrastructure origin; two of them at once, three
/// times over (their pushes race): every run's record is on the history branch, in the order
/// the runs started, and `ovscript log --team` shows them from any of the checkouts.
#[test]
fn the_team_history_holds_every_run_of_every_checkout_none_lost_when_pushes_race() {
    let laptop = deployer(Test::new().deploying());
    let origin = laptop.path().join("origin.git");
    let other = second_checkout(&origin);
    let ci = second_checkout(&origin)
        .flag("--yes")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "WordPress/openverse-infrastructure")
        .env("GITHUB_RUN_ID", "4242");

    laptop.run().success().stdout_has("deployed");
    ci.run().success();
    // Two at once: one holds the deploy lock, the other is refused by it; both are recorded.
    for _ in 0..3 {
        let first = laptop.prepare(&["run", "script.rhai"]).spawn().unwrap();
        let second = other.prepare(&["run", "script.rhai"]).spawn().unwrap();
        let (first, second) = (
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        );
        assert!(
            first.status.success() || second.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&first.stderr),
            String::from_utf8_lossy(&second.stderr)
        );
    }
    let mut expected: Vec<String> = [&laptop, &other, &ci]
        .iter()
        .flat_map(|t| crate::test::journal_files(t.path()))
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 8);

    for reader in [&laptop, &other, &ci] {
        let runs = team_runs(reader);
        let ids: Vec<String> = runs.iter().map(|r| r.0.clone()).collect();
        let mut sorted_ids = ids.clone();
        sorted_ids.sort();
        assert_eq!(sorted_ids, expected, "every run, none lost");
        // In the order they started (run ids begin with their start, to the second).
        let starts: Vec<String> = ids.iter().map(|id| id[..16].to_string()).collect();
        let mut ordered = starts.clone();
        ordered.sort();
        assert_eq!(starts, ordered);
        assert!(runs.iter().all(|r| !r.1.contains("not pushed")), "{runs:?}");
        let from_ci: Vec<_> = runs.iter().filter(|r| !r.2.is_empty()).collect();
        assert_eq!(from_ci.len(), 1, "{runs:?}");
        assert_eq!(
            from_ci[0].2,
            "https://github.com/WordPress/openverse-infrastructure/actions/runs/4242"
        );
    }
    let table = laptop.command(&["log", "--team"]);
    table
        .success()
        .stdout_has("CI https://github.com/WordPress/openverse-infrastructure/actions/runs/4242");
}

/// An origin that cannot be reached: the deploy is not failed by it, its record waits, and goes
/// with the next run once the origin answers.
#[test]
fn a_record_that_cannot_be_pushed_waits_for_the_next_run() {
    let laptop = deployer(Test::new().deploying());
    let origin = laptop.path().join("origin.git");
    laptop.run().success();
    // The history push fails (the origin refuses that branch: a pre-receive hook), the lock's
    // pushes still go through.
    let hook = origin.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\nwhile read old new name; do case \"$name\" in refs/heads/ovscript-history) echo 'history refused' >&2; exit 1;; esac; done\nexit 0\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let refused = laptop.run();
    refused
        .success()
        .stderr_has("the team's history was not updated");
    let runs = team_runs(&laptop);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1].1.contains("not pushed yet"), "{runs:?}");
    std::fs::remove_file(&hook).unwrap();
    laptop.run().success();
    let runs = team_runs(&laptop);
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(runs.iter().all(|r| !r.1.contains("not pushed")), "{runs:?}");
}
