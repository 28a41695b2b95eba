//! A deploy as a step of a GitHub Actions job (`GITHUB_ACTIONS=true`): steps as log groups,
//! failures and warnings as annotations at the script's line, secrets masked before their first
//! use, the job summary and the step's outputs written, and no question asked of nobody.

use crate::rehearsal::{rehearse, repo_file};
use crate::test::Test;

/// The catalog rehearsed as a job step would run it, with its summary and output files.
fn in_a_job(
    scenario: &str,
    extra: &[&str],
) -> Option<(crate::rehearsal::Rehearsal, String, String)> {
    let files = tempfile::tempdir().unwrap();
    let summary = files.path().join("summary.md");
    let output = files.path().join("output.txt");
    let rehearsal = rehearse(
        "catalog",
        scenario,
        extra,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ],
    )?;
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    Some((rehearsal, read(&summary), read(&output)))
}

#[test]
fn a_deploy_in_a_job_groups_its_steps_masks_its_secrets_and_sums_itself_up() {
    let Some((run, summary, output)) = in_a_job("calm", &["--yes"]) else {
        return;
    };
    let out = run.out.success();
    out.stdout_has("::group::[1] Note when the deploy begins\n")
        .stdout_has("::endgroup::\n")
        .stdout_has("::group::[13] Open a PR on the infrastructure repository\n");
    // Each secret is masked before anything else is printed.
    let first_line = out.stdout.lines().next().unwrap_or_default();
    assert!(first_line.starts_with("::add-mask::"), "{first_line}");
    assert!(
        out.stdout.matches("::add-mask::").count() >= 3,
        "{}",
        out.stdout
    );
    // What was masked shows nowhere else, in the log or in the files the job keeps.
    let masked: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    for secret in &masked {
        for (name, text) in [
            ("stderr", out.stderr.as_str()),
            ("summary", summary.as_str()),
            ("outputs", output.as_str()),
        ] {
            assert!(!text.contains(secret), "{name} shows a secret");
        }
        let shown = out
            .stdout
            .lines()
            .filter(|l| !l.starts_with("::add-mask::") && l.contains(secret))
            .count();
        assert_eq!(shown, 0, "stdout shows a secret");
    }
    // Groups do not nest: as many ends as starts.
    assert_eq!(
        out.stdout.matches("::group::").count(),
        out.stdout.matches("::endgroup::").count()
    );
    assert!(summary.contains("## ovscript: `"), "{summary}");
    assert!(
        summary.contains(": **ok**, release `catalog-2024.05.02.10.00.00`"),
        "{summary}"
    );
    assert!(summary.contains("| step | outcome | took |\n| --- | --- | --- |\n| [1] Note when the deploy begins | ok |"), "{summary}");
    assert!(summary.contains("**Left to do by hand:**"), "{summary}");
    assert!(summary.contains("infrastructure PR [#900](https://github.com/WordPress/openverse-infrastructure/pull/900)"), "{summary}");
    assert!(summary.contains("release [catalog-2024.05.02.10.00.00](https://github.com/WordPress/openverse/releases/tag/catalog-2024.05.02.10.00.00)"), "{summary}");
    let run_id = out.run_id();
    for (name, value) in [
        ("run_id", run_id.as_str()),
        ("outcome", "ok"),
        ("release_tag", "catalog-2024.05.02.10.00.00"),
        (
            "infra_pr_url",
            "https://github.com/WordPress/openverse-infrastructure/pull/900",
        ),
    ] {
        let start = format!("{name}<<ghadelimiter_");
        let at = output
            .find(&start)
            .unwrap_or_else(|| panic!("no {name} in {output}"));
        let rest = &output[at + start.len() - "ghadelimiter_".len()..];
        let delimiter = rest.lines().next().unwrap();
        let mut lines = rest.lines().skip(1);
        assert_eq!(lines.next(), Some(value), "{name}: {output}");
        assert_eq!(lines.next(), Some(delimiter), "{name}: {output}");
    }
}

#[test]
fn a_failing_deploy_in_a_job_is_annotated_at_its_line_and_says_how_to_go_on() {
    let Some((run, summary, output)) = in_a_job("apply-fails", &["--yes"]) else {
        return;
    };
    let out = run.out.code(1);
    let annotation = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no error annotation in {}", out.stdout));
    // At the place the error report names: the line of the runbook's stdlib that failed.
    let place = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .find_map(|l| {
            let mut parts = l.splitn(4, ':');
            let place = (parts.next()?, parts.next()?, parts.next()?);
            (place.1.parse::<u32>().is_ok() && place.2.parse::<u32>().is_ok()).then_some(place)
        })
        .unwrap_or_else(|| panic!("no place in {}", out.stderr));
    assert!(
        annotation.starts_with(&format!(
            "::error file={},line={},col={},title=ovscript::just apply prod catalog-airflow failed",
            place.0, place.1, place.2
        )),
        "{annotation} at {place:?}"
    );
    out.stdout_has("::warning::");
    assert!(summary.contains(": **error**"), "{summary}");
    assert!(
        summary.contains("To go on with this run: `ovscript run"),
        "{summary}"
    );
    assert!(output.contains("outcome<<ghadelimiter_"), "{output}");
    assert!(output.contains("\nerror\n"), "{output}");
}

#[test]
fn a_job_without_yes_refuses_before_its_first_step() {
    let test = Test::new().env("GITHUB_ACTIONS", "true");
    let out = test.command(&[
        "run",
        "--rehearse",
        repo_file("scripts/catalog.rhai").as_str(),
    ]);
    out.code(2)
        .stderr_has(
            "asks questions, and nobody can answer them in a GitHub Actions job: run it with --yes",
        )
        .stdout_lacks("==> [1]");
    // A script that asks nothing runs as it is.
    test.clone()
        .script("print(\"fine\");")
        .run()
        .success()
        .stdout_has("fine");
}
