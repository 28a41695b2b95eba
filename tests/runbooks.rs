//! The two runbooks, rehearsed in every scenario of the simulated world, judged by what the
//! world saw (its record in world.json, the scratch repository's files and recipe log), not by
//! what the script printed.

use crate::rehearsal::{rehearse, repo_file, Rehearsal};
use crate::test::Test;
use ovscript::journal::Event;
use serde_json::Value;
use std::path::Path;

const CATALOG_TF: &str = "environments/prod/catalog-airflow.tf";
const INGESTION_TF: &str = "environments/prod/ingestion-server.tf";
/// The world's faults of a rehearsal, as JSON (`ovscript::world::Faults`).
const FAULTS: &str = "OVSCRIPT_TEST_WORLD_FAULTS";

impl Rehearsal {
    fn recipes(&self) -> Vec<Value> {
        std::fs::read_to_string(self.infra.join(".rehearsal/recipes.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn applies(&self) -> Vec<Value> {
        self.recipes()
            .into_iter()
            .filter(|r| r["recipe"] == "apply")
            .collect()
    }

    fn changes(&self) -> Vec<String> {
        self.world["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    }

    fn writes(&self) -> Vec<String> {
        self.world["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] != "GET" && r["method"] != "HEAD")
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    }

    fn published(&self, prefix: &str) -> bool {
        self.changes()
            .iter()
            .any(|c| c.starts_with("github: published release") && c.contains(prefix))
    }

    /// The template's files, unchanged.
    fn untouched(&self) {
        assert!(
            self.recipes().is_empty(),
            "recipes ran: {:?}",
            self.recipes()
        );
        assert!(
            self.changes().is_empty(),
            "the world changed: {:?}",
            self.changes()
        );
        assert!(
            self.writes().is_empty(),
            "write requests: {:?}",
            self.writes()
        );
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/infra");
        for file in [
            CATALOG_TF,
            INGESTION_TF,
            "environments/dev/ingestion-server.tf",
        ] {
            assert_eq!(
                self.file(file),
                std::fs::read_to_string(template.join(file)).unwrap(),
                "{file} changed"
            );
        }
    }

    /// Every apply of production saw the flag true; the flag is false again at the end.
    fn flag_only_during_apply(&self, file: &str, flag: &str) {
        for apply in self.applies().iter().filter(|a| a["env"] == "prod") {
            assert_eq!(
                apply["flag"], true,
                "an apply ran without the clearance flag: {apply}"
            );
        }
        assert!(
            self.file(file).contains(&format!("{flag} = false")),
            "{file}:\n{}",
            self.file(file)
        );
    }
}

#[test]
fn catalog_calm_deploys_and_puts_the_flag_back() {
    let Some(r) = rehearse("catalog", "calm", &["--yes"], &[]) else {
        return;
    };
    r.out
        .success()
        .stdout_has("what changed in the simulated world");
    assert!(r.published("catalog-"), "{:?}", r.changes());
    let recipes: Vec<String> = r
        .recipes()
        .iter()
        .map(|x| format!("{} {} {}", x["recipe"], x["env"], x["service"]))
        .collect();
    assert_eq!(
        recipes,
        [
            r#""bump" "prod" "catalog-airflow""#,
            r#""apply" "prod" "catalog-airflow""#
        ]
    );
    assert_eq!(r.applies()[0]["code"], 0);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
    assert!(
        r.file(CATALOG_TF)
            .contains(r#"docker_image_tag     = "rel-2024.05.02.10.00.00""#),
        "the image is the published release's: {}",
        r.file(CATALOG_TF)
    );
    assert_eq!(r.world["approved_prs"].as_array().unwrap().len(), 1);
    assert_eq!(r.world["opened_prs"].as_array().unwrap().len(), 1);
    assert!(
        r.world["dispatches"].as_array().unwrap().is_empty(),
        "no rollback in a calm deploy"
    );
}

#[test]
fn catalog_stops_before_any_change_when_a_dag_is_running() {
    let Some(r) = rehearse("catalog", "dag-running", &["--yes"], &[]) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("flickr_workflow")
        .stderr_has("Nothing was changed");
    r.untouched();
}

#[test]
fn catalog_pauses_a_refresh_waiting_on_its_sensor_and_unpauses_it() {
    let Some(r) = rehearse("catalog", "sensor-waiting", &["--yes"], &[]) else {
        return;
    };
    r.out.success();
    let changes = r.changes();
    let paused = changes
        .iter()
        .position(|c| c == "airflow: paused image_data_refresh")
        .expect("paused");
    let unpaused = changes
        .iter()
        .position(|c| c == "airflow: unpaused image_data_refresh")
        .expect("unpaused");
    assert!(paused < unpaused);
    assert_eq!(r.world["paused"]["image_data_refresh"], false);
    assert_eq!(r.applies().len(), 1);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
}

#[test]
fn catalog_unpauses_the_refresh_even_when_the_apply_fails() {
    let Some(r) = rehearse(
        "catalog",
        "sensor-waiting",
        &["--yes"],
        &[("OVSCRIPT_REHEARSE_APPLY_FAILS", "1")],
    ) else {
        return;
    };
    r.out.code(1);
    assert!(
        r.changes()
            .contains(&"airflow: unpaused image_data_refresh".to_string()),
        "{:?}",
        r.changes()
    );
    assert_eq!(r.world["paused"]["image_data_refresh"], false);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
}

#[test]
fn a_flag_that_cannot_be_restored_after_a_good_apply_is_its_own_outcome_and_no_rollback() {
    // The flag's line is deleted while the apply runs: the apply succeeds, the restore cannot.
    let Some(r) = rehearse(
        "catalog",
        "calm",
        &["--yes"],
        &[("OVSCRIPT_REHEARSE_APPLY_DROPS_FLAG", "1")],
    ) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("the production apply succeeded, but the step failed after it")
        .stderr_has("running_dags_cleared may still be true in environments/prod/catalog-airflow.tf")
        .stdout_has("set running_dags_cleared = false in environments/prod/catalog-airflow.tf (the apply succeeded; no rollback is needed)")
        .stdout_lacks("Roll back");
    assert_eq!(r.applies()[0]["code"], 0);
    assert!(r.world["dispatches"].as_array().unwrap().is_empty());
}

#[test]
fn catalog_apply_failure_restores_the_flag_shows_it_and_offers_rollback() {
    let Some(r) = rehearse("catalog", "apply-fails", &["--yes"], &[]) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("just apply prod catalog-airflow failed with exit code 1")
        .stdout_has("Roll back production to rel-2024.04.01.12.00.00");
    assert_eq!(r.applies()[0]["code"], 1);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
    let dispatches = r.world["dispatches"].as_array().unwrap();
    assert_eq!(dispatches.len(), 1);
    assert!(dispatches[0]["inputs"]["tag"]
        .as_str()
        .unwrap()
        .starts_with("rel-"));
}

#[test]
fn catalog_new_sentry_errors_lead_to_a_rollback_with_the_last_rel_tag() {
    let Some(r) = rehearse("catalog", "sentry-errors", &["--yes"], &[]) else {
        return;
    };
    r.out
        .code(1)
        .stdout_has("title")
        .stderr_has("rolled back to rel-2024.04.01.12.00.00");
    let dispatches = r.world["dispatches"].as_array().unwrap();
    assert_eq!(dispatches.len(), 1, "{dispatches:?}");
    assert_eq!(dispatches[0]["inputs"]["tag"], "rel-2024.04.01.12.00.00");
    assert_eq!(dispatches[0]["repo"], "WordPress/openverse-infrastructure");
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
}

#[test]
fn catalog_with_airflow_down_fails_clearly_and_changes_nothing() {
    let Some(r) = rehearse("catalog", "airflow-down", &["--yes"], &[]) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("cannot reach airflow at http://127.0.0.1:")
        .stderr_has("OVSCRIPT_AIRFLOW_URL");
    r.untouched();
}

#[test]
fn catalog_dry_run_changes_nothing() {
    let Some(r) = rehearse("catalog", "calm", &["--dry-run"], &[]) else {
        return;
    };
    r.out.success().stdout_has("would: ");
    r.untouched();
}

#[test]
fn catalog_without_an_answer_stops_before_publishing() {
    let Some(r) = rehearse("catalog", "calm", &[], &[]) else {
        return;
    };
    r.out.code(1).stderr_has("standard input is not a terminal");
    r.untouched();
}

#[test]
fn ingestion_calm_deploys_staging_then_production() {
    let Some(r) = rehearse("ingestion", "calm", &["--yes"], &[]) else {
        return;
    };
    r.out.success();
    assert!(r.published("ingestion_server-"), "{:?}", r.changes());
    let recipes: Vec<String> = r
        .recipes()
        .iter()
        .map(|x| {
            format!(
                "{} {}",
                x["recipe"].as_str().unwrap(),
                x["env"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        recipes,
        ["bump dev", "apply dev", "bump prod", "apply prod"]
    );
    r.flag_only_during_apply(INGESTION_TF, "data_refresh_cleared");
    assert_eq!(r.world["opened_prs"].as_array().unwrap().len(), 1);
}

#[test]
fn ingestion_skip_staging_deploys_production_only() {
    let Some(r) = rehearse("ingestion", "calm", &["--yes", "--", "--skip-staging"], &[]) else {
        return;
    };
    r.out.success();
    let envs: Vec<Value> = r.recipes().iter().map(|x| x["env"].clone()).collect();
    assert!(envs.iter().all(|e| e == "prod"), "{envs:?}");
}

#[test]
fn ingestion_ignores_provider_dags_but_never_deploys_during_a_refresh() {
    let Some(r) = rehearse("ingestion", "dag-running", &["--yes"], &[]) else {
        return;
    };
    r.out.success();
    // A refresh waiting on its sensor is the ingestion server at work: no exception here.
    let Some(r) = rehearse("ingestion", "sensor-waiting", &["--yes"], &[]) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("a data refresh is occurring: image_data_refresh")
        .stderr_has("Nothing was changed");
    r.untouched();
    assert_eq!(r.world["paused"]["image_data_refresh"], false);
    // The newer refresh DAGs are found by their tag too.
    let Some(r) = rehearse(
        "ingestion",
        "sensor-waiting",
        &["--yes"],
        &[(FAULTS, r#"{"refresh_dags_2024": true}"#)],
    ) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("a data refresh is occurring: production_image_data_refresh");
    r.untouched();
}

#[test]
fn ingestion_apply_failure_and_sentry_errors_and_airflow_down() {
    let Some(r) = rehearse("ingestion", "apply-fails", &["--yes"], &[]) else {
        return;
    };
    // Staging fails first: production is untouched and nothing is rolled back.
    r.out
        .code(1)
        .stderr_has("just apply dev ingestion-server failed with exit code 1")
        .stderr_has("staging failed, production is untouched");
    assert!(
        r.applies().iter().all(|a| a["env"] == "dev"),
        "{:?}",
        r.applies()
    );
    assert!(r.world["dispatches"].as_array().unwrap().is_empty());
    r.flag_only_during_apply(INGESTION_TF, "data_refresh_cleared");

    let Some(r) = rehearse(
        "ingestion",
        "apply-fails",
        &["--yes", "--", "--skip-staging"],
        &[],
    ) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("just apply prod ingestion-server failed with exit code 1");
    r.flag_only_during_apply(INGESTION_TF, "data_refresh_cleared");
    let dispatches = r.world["dispatches"].as_array().unwrap();
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0]["inputs"]["tag"], "rel-2024.04.02.09.30.00");

    let Some(r) = rehearse("ingestion", "sentry-errors", &["--yes"], &[]) else {
        return;
    };
    r.out.code(1).stderr_has("rolled back to rel-");
    let tag = r.world["dispatches"][0]["inputs"]["tag"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(tag.starts_with("rel-"), "{tag}");
    r.flag_only_during_apply(INGESTION_TF, "data_refresh_cleared");

    let Some(r) = rehearse("ingestion", "airflow-down", &["--yes"], &[]) else {
        return;
    };
    r.out.code(1).stderr_has("cannot reach airflow");
    r.untouched();
}

#[test]
fn ingestion_dry_run_changes_nothing() {
    let Some(r) = rehearse("ingestion", "calm", &["--dry-run"], &[]) else {
        return;
    };
    r.out.success().stdout_has("would: ");
    r.untouched();
}

#[test]
fn a_dag_that_starts_after_the_first_check_stops_the_apply_on_resume() {
    // The first run stops at the apply; the resumed run, in a world where a DAG now runs,
    // skips the finished steps but runs the safety checks again (check_step) before anything.
    let Some(path) = crate::test::tools_bin().map(|b| crate::test::path_with(&b)) else {
        return;
    };
    let test = Test::new().env("PATH", &path);
    let script = repo_file("scripts/catalog.rhai");
    let first = test.command(&["run", "--rehearse=apply-fails", "--yes", &script]);
    first.code(1);
    let run_id = first.run_id();
    let second = test.command(&[
        "run",
        "--rehearse=dag-running",
        "--yes",
        "--resume",
        &run_id,
        &script,
    ]);
    second
        .code(1)
        .stdout_has("Note when the deploy begins: skipped")
        .stdout_lacks("Check that no DAGs are running: skipped")
        .stderr_has("flickr_workflow");
    let newest = std::fs::read_dir(test.path().join(".ovscript/rehearsals"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let recipes =
        std::fs::read_to_string(newest.join("infra/.rehearsal/recipes.jsonl")).unwrap_or_default();
    assert!(
        !recipes.contains("\"apply\""),
        "applied with a DAG running: {recipes}"
    );
}

#[test]
fn bad_options_are_usage_errors_before_anything_runs() {
    let cases: [(&str, &[&str], &str); 7] = [
        (
            "ingestion",
            &["--skip-staging=no"],
            "--skip-staging is a switch",
        ),
        (
            "catalog",
            &["--expect-airflow-version"],
            "--expect-airflow-version needs a value",
        ),
        (
            "catalog",
            &["--watch=soon"],
            "--watch=soon is not a duration",
        ),
        // Five months to some parsers; two weeks is no wait an operator means either.
        ("catalog", &["--watch=5M"], "--watch=5M is not a duration"),
        ("ingestion", &["--watch=2w"], "--watch=2w is not a duration"),
        ("ingestion", &["--colour=blue"], "unknown option --colour"),
        ("catalog", &["--rollback=later"], "--rollback=later"),
    ];
    for (runbook, options, message) in cases {
        let mut extra = vec!["--yes", "--"];
        extra.extend(options);
        let Some(r) = rehearse(runbook, "calm", &extra, &[]) else {
            return;
        };
        r.out.code(2).stderr_has(message).stdout_lacks("==> [1]");
        r.untouched();
    }
}

#[test]
fn sentry_is_watched_for_the_time_asked_on_the_fast_clock() {
    let Some(r) = rehearse("ingestion", "calm", &["--yes", "--", "--watch=10m"], &[]) else {
        return;
    };
    r.out.success().stdout_has("watched Sentry for 10m");
    let polls = r.world["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["path"].as_str().unwrap().ends_with("/issues/"))
        .count();
    assert!(polls > 10, "Sentry was asked {polls} times in the watch");
}

#[test]
fn every_runbook_passes_check() {
    let scripts = [
        repo_file("scripts/catalog.rhai"),
        repo_file("scripts/ingestion.rhai"),
    ];
    Test::new()
        .command(&["check", &scripts[0], &scripts[1]])
        .success()
        .stdout_has("ok: 2 script(s) checked");
}

#[test]
fn an_unknown_scenario_lists_the_valid_ones() {
    Test::new()
        .command(&[
            "run",
            "--rehearse=sunny",
            &repo_file("scripts/catalog.rhai"),
        ])
        .code(2)
        .stderr_has("sunny")
        .stderr_has("sensor-waiting");
}

#[test]
fn catalog_waits_out_a_sensor_caught_mid_poke() {
    let Some(r) = rehearse(
        "catalog",
        "sensor-waiting",
        &["--yes"],
        &[(FAULTS, r#"{"sensor_poking_reads": 2}"#)],
    ) else {
        return;
    };
    r.out.success().stdout_has("its sensor to end its poke");
    let changes = r.changes();
    assert!(
        changes.contains(&"airflow: paused image_data_refresh".to_string()),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"airflow: unpaused image_data_refresh".to_string()),
        "{changes:?}"
    );
    assert_eq!(r.applies().len(), 1);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
}

#[test]
fn catalog_pauses_the_newer_refresh_dag_found_by_its_tag() {
    let Some(r) = rehearse(
        "catalog",
        "sensor-waiting",
        &["--yes"],
        &[(FAULTS, r#"{"refresh_dags_2024": true}"#)],
    ) else {
        return;
    };
    r.out
        .success()
        .stdout_has("production_image_data_refresh is waiting on its HTTP sensor");
    let changes = r.changes();
    let paused = changes
        .iter()
        .position(|c| c == "airflow: paused production_image_data_refresh")
        .expect("paused");
    let unpaused = changes
        .iter()
        .position(|c| c == "airflow: unpaused production_image_data_refresh")
        .expect("unpaused");
    assert!(paused < unpaused);
    assert_eq!(r.world["paused"]["production_image_data_refresh"], false);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
}

/// The registry requests of a rehearsal: (status, tag) of each manifest HEAD.
fn manifest_checks(r: &Rehearsal) -> Vec<(u64, String)> {
    r.world["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["service"] == "registry" && q["method"] == "HEAD")
        .map(|q| {
            let path = q["path"].as_str().unwrap();
            (
                q["status"].as_u64().unwrap(),
                path.rsplit('/').next().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_bump_waits_for_the_release_image() {
    let Some(r) = rehearse("catalog", "image-late", &["--yes"], &[]) else {
        return;
    };
    r.out.success();
    let checks = manifest_checks(&r);
    assert!(
        checks.iter().any(|(status, _)| *status == 404),
        "the image was there at once: {checks:?}"
    );
    assert_eq!(
        checks.last().unwrap(),
        &(200, "rel-2024.05.02.10.00.00".to_string())
    );
    // In the journal, the wait ends before the bump starts.
    let journal = r.out.events();
    let waited = journal
        .iter()
        .position(|e| {
            matches!(e, Event::WaitEnd { outcome, what, .. }
                if outcome == "ok" && what.contains("rel-2024.05.02.10.00.00"))
        })
        .expect("the wait ended");
    let bumped = journal
        .iter()
        .position(|e| matches!(e, Event::JustStart { recipe, .. } if recipe == "bump"))
        .expect("bumped");
    assert!(waited < bumped);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
}

#[test]
fn a_missing_image_stops_before_the_bump() {
    let Some(r) = rehearse(
        "ingestion",
        "image-missing",
        &["--yes", "--", "--image-timeout=5m"],
        &[],
    ) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("the release ingestion_server-2024.05.02.10.05.00 is published, but its image ghcr.io/wordpress/openverse-ingestion_server:rel-2024.05.02.10.05.00 is not in the registry after 5m")
        .stderr_has("Nothing was bumped or applied");
    assert!(r.published("ingestion_server-"));
    assert!(r.recipes().is_empty(), "{:?}", r.recipes());
    let checks = manifest_checks(&r);
    assert!(
        checks.iter().any(|(status, _)| *status == 404),
        "{checks:?}"
    );
    assert!(
        checks.iter().all(|(status, _)| *status != 200),
        "{checks:?}"
    );
}

#[test]
fn a_release_published_under_another_tag_stops_the_run() {
    let Some(r) = rehearse(
        "catalog",
        "calm",
        &["--yes"],
        &[(
            FAULTS,
            r#"{"published_tag": "catalog-2024.05.02.11.00.00"}"#,
        )],
    ) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("GitHub published catalog-2024.05.02.11.00.00, not catalog-2024.05.02.10.00.00 as confirmed")
        .stdout_has("look at the release catalog-2024.05.02.11.00.00 on GitHub");
    assert!(r.recipes().is_empty(), "{:?}", r.recipes());
    assert!(manifest_checks(&r).is_empty());
}

#[test]
fn a_failed_bump_offers_no_rollback() {
    let Some(r) = rehearse(
        "catalog",
        "calm",
        &["--yes"],
        &[("OVSCRIPT_REHEARSE_BUMP_FAILS", "1")],
    ) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("just bump prod catalog-airflow failed with exit code 1")
        .stdout_lacks("Roll back");
    assert!(r.applies().is_empty());
    assert!(r.world["dispatches"].as_array().unwrap().is_empty());
}

#[test]
fn a_local_rollback_applies_the_stable_tag_with_the_flag_only_during_that_apply() {
    let Some(r) = rehearse(
        "catalog",
        "sentry-errors",
        &["--yes", "--", "--rollback=local"],
        &[],
    ) else {
        return;
    };
    r.out
        .code(1)
        .stderr_has("rolled back to rel-2024.04.01.12.00.00");
    let applies = r.applies();
    let tags: Vec<&str> = applies.iter().map(|a| a["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["rel-2024.05.02.10.00.00", "rel-2024.04.01.12.00.00"]);
    r.flag_only_during_apply(CATALOG_TF, "running_dags_cleared");
    assert!(r
        .file(CATALOG_TF)
        .contains(r#"docker_image_tag     = "rel-2024.04.01.12.00.00""#));
    assert!(r.world["dispatches"].as_array().unwrap().is_empty());
}

#[test]
fn sentry_that_cannot_be_read_is_not_checked_and_the_deploy_goes_on() {
    let Some(r) = rehearse(
        "ingestion",
        "calm",
        &["--yes"],
        &[(FAULTS, r#"{"sentry_status": 500}"#)],
    ) else {
        return;
    };
    r.out
        .success()
        .stderr_has("Sentry was NOT checked: sentry answered 500")
        .stdout_lacks("no new Sentry errors")
        .stdout_has("left to do by hand:")
        .stdout_has("check Sentry for new errors since");
    // The later post-deploy steps still ran.
    assert_eq!(r.world["approved_prs"].as_array().unwrap().len(), 1);
    assert_eq!(r.world["opened_prs"].as_array().unwrap().len(), 1);
}

#[test]
fn a_run_ends_with_a_summary_of_its_steps() {
    let Some(r) = rehearse("ingestion", "calm", &["--yes"], &[]) else {
        return;
    };
    r.out
        .success()
        .stdout_has("summary:\n  [1] Note when the deploy begins")
        .stdout_has("[7] Wait for the release's image in the registry")
        .stdout_has("left to do by hand:\n  - get the infrastructure PR");
    let end = r
        .out
        .events()
        .into_iter()
        .find(|e| matches!(e, Event::RunEnd { .. }))
        .unwrap();
    let Event::RunEnd { by_hand, .. } = &end else {
        unreachable!()
    };
    assert_eq!(by_hand.len(), 1, "{end:?}");
}

/// `ovscript run SCRIPT --help` is the runbook's: its options, their defaults and what each does,
/// read from the script; nothing runs and nothing is journaled.
#[test]
fn a_runbook_says_what_options_it_takes() {
    let test = Test::new();
    let catalog = repo_file("scripts/catalog.rhai");
    for argv in [
        vec!["run", catalog.as_str(), "--help"],
        vec!["run", "--yes", catalog.as_str(), "-h"],
        vec!["run", catalog.as_str(), "--", "--help"],
        vec![catalog.as_str(), "--help"],
    ] {
        test.command(&argv)
            .success()
            .stdout_has("Catalog (Airflow) deployment\n")
            .stdout_has("--watch=DURATION ")
            .stdout_has("watch Sentry this long after the deploy for new errors (e.g. 10m)")
            .stdout_has("--image-timeout=DURATION    30m ")
            .stdout_has("Its steps: ovscript runbook ");
    }
    assert!(crate::test::journal_files(test.path()).is_empty());
    // Before the script, it is `run`'s own help.
    test.command(&["run", "--help"])
        .success()
        .stdout_has("Usage: ovscript run [OPTIONS] <SCRIPT> [ARGS]...");
    // A script without options says so.
    test.clone()
        .script("print(1);")
        .command(&["run", "script.rhai", "--help"])
        .success()
        .stdout_has("It takes no options.")
        .stdout_lacks("1\n");
}
