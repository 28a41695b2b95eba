//! `ovscript runbook`: the runbook pages, generated from the scripts without running them,
//! checked word for word; and the pages of `docs/runbooks/`, which must be what the scripts
//! generate, so that a script changed without its page cannot land.

use std::path::Path;
use std::process::Stdio;

use crate::test::Test;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `ovscript ARGS...` from the project's root, as its docs are generated: (exit code, stdout,
/// stderr).
fn at_root(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Test::new()
        .prepare(args)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .output()
        .expect("run ovscript");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[track_caller]
fn assert_page(args: &[&str], expected: &str) {
    let (code, stdout, stderr) = at_root(args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    if stdout != expected {
        panic!(
            "ovscript {} differs from the page expected\n--- got\n{stdout}\n--- expected\n{expected}",
            args.join(" ")
        );
    }
}

#[test]
fn the_catalog_runbook_reads_as_its_steps() {
    assert_page(&["runbook", "scripts/catalog.rhai"], CATALOG);
}

#[test]
fn the_ingestion_runbook_reads_as_its_steps() {
    assert_page(&["runbook", "scripts/ingestion.rhai"], INGESTION);
}

#[test]
fn the_pages_in_docs_are_what_the_scripts_generate() {
    for runbook in ["catalog", "ingestion"] {
        let script = format!("scripts/{runbook}.rhai");
        let page = format!("docs/runbooks/{runbook}.md");
        let (code, generated, stderr) = at_root(&["runbook", "--markdown", &script]);
        assert_eq!(code, Some(0), "{stderr}");
        let written = std::fs::read_to_string(Path::new(ROOT).join(&page)).unwrap_or_default();
        assert!(
            written == generated,
            "{page} is not what {script} generates: regenerate it with\n  ovscript runbook --markdown {script} > {page}\n(or `just docs`), and commit it with the script"
        );
    }
}

#[test]
fn each_part_of_a_script_reads_as_a_person_says_it() {
    let out = Test::new()
        .file("stdlib/ops.rhai", OPS)
        .script(SCRIPT)
        .command(&["runbook", "script.rhai"]);
    out.success();
    assert_eq!(out.stdout, SMALL);
    // Nothing ran: no journal, no question asked, no recipe.
    assert!(!out.dir.join(".ovscript").exists());
    let markdown = Test::new()
        .file("stdlib/ops.rhai", OPS)
        .script(SCRIPT)
        .command(&["runbook", "--markdown", "script.rhai"]);
    markdown
        .success()
        .stdout_has("# Example deployment\n\nA small runbook, to show how each part reads.\n\n_Generated from `script.rhai` by `ovscript runbook --markdown script.rhai`, without running it: edit the script, then generate this page again._\n")
        .stdout_has("| option | default | what it does |\n| --- | --- | --- |\n| `--fast` | off | skip the wait |\n| `--wait=DURATION` | `5m` | how long to wait |\n")
        .stdout_has("## Setup\n\n1. **Say hello**\n   - `ops::hello`: Says hello.\n2. **Make sure** (a check: it runs again on `--resume`)\n");
}

#[test]
fn a_script_that_does_not_compile_has_no_page() {
    Test::new()
        .script("step(\"A\", || {\n")
        .command(&["runbook", "script.rhai"])
        .code(2)
        .stderr_has("script.rhai:");
    Test::new()
        .command(&["runbook", "missing.rhai"])
        .code(2)
        .stderr_has("cannot read missing.rhai");
}

const OPS: &str = r##"/// The options: as given, or their defaults.
fn options(args, known, durations) {
    known
}

/// Applies `service` with its clearance flag set. Only while the recipe runs.
fn apply(service) {
    tf.with(`environments/prod/${service}.tf`, `module.${service}.cleared`, true, || just("apply", "prod", service));
}

/// Says hello. Nothing a reader must see.
fn hello() {
    info("hello");
}
"##;

const SCRIPT: &str = r##"// Example deployment: a small runbook, to show how each part reads.
//
//   ovscript run script.rhai [-- OPTIONS]
//
// Options:
//   --fast            skip the wait
//   --wait=DURATION   how long to wait

import "ops" as ops;

let opts = ops::options(args, #{ "fast": false, "wait": "5m" }, ["wait"]);

// Setup
step("Say hello", || ops::hello());
check_step("Make sure", || {
    if !confirm("Go on?") {
        throw "stopped";
    }
    git.lock();
});

// Deployment, on a good day
airflow.while_paused(["image_data_refresh"], || {
    step("Apply", || ops::apply("catalog-airflow"));
});
if !opts.fast {
    wait_until("the dust to settle", opts.wait, "10s", || true);
}
on_error(|| step("Check", || http.get("https://example.org")), |m| slack.post(`check failed: ${m}`));
always(|| just("bump", "prod", "x"), || github.dispatch_workflow("o/r", "w.yml", "main", #{}));
"##;

const SMALL: &str = r##"Example deployment
==================

A small runbook, to show how each part reads.

Generated from script.rhai without running it.

    ovscript run script.rhai [-- OPTIONS]

Options
-------

  --fast           off  skip the wait
  --wait=DURATION  5m   how long to wait

Setup
-----

1. Say hello
   - `ops::hello`: Says hello.
2. Make sure (a check: it runs again on `--resume`)
   - Asks "Go on?"
   - If the answer is yes:
     - Takes the deploy lock

Deployment
----------

On a good day.

1. With the DAGs of `["image_data_refresh"]` paused (unpaused after, whatever happens)
   - Apply
     - `ops::apply`: Applies `service` with its clearance flag set.
       - With `module.catalog-airflow.cleared = true` in `environments/prod/catalog-airflow.tf` (set before, restored after, whatever happens)
         - Runs `just apply prod catalog-airflow`
2. Unless `--fast`:
   - Waits for the dust to settle (up to --wait (5m by default), every 10s)
3. Check
   - If it fails:
     - Posts to the team's channel: "check failed: {message}"
4. Runs `just bump prod x`
5. Then, whatever happened:
   - Dispatches the workflow `w.yml` of `o/r` on `main` with `#{}`
"##;

const CATALOG: &str = r##"Catalog (Airflow) deployment
============================

The "Deployment runbook" of the catalog, step by step.

Generated from scripts/catalog.rhai without running it.

    ovscript run scripts/catalog.rhai [-- OPTIONS]
    ovscript run --rehearse scripts/catalog.rhai        (a simulated world, on this machine)

Options
-------

  --expect-airflow-version=X  none                                 an Airflow upgrade is deployed: after the deploy Airflow must report X
  --watch=DURATION            none                                 watch Sentry this long after the deploy for new errors (e.g. 10m)
  --sentry-project=SLUG       none                                 the Sentry project to check (default: `project` under [sentry])
  --image=NAME                ghcr.io/wordpress/openverse-catalog  the image the release workflow tags (default ghcr.io/wordpress/openverse-catalog)
  --image-timeout=DURATION    30m                                  how long to wait for the release's rel- image before the bump (default 30m)
  --rollback=workflow|local   workflow                             how to roll back: dispatch the infrastructure repository's workflow (default), or apply the stable rel- tag from this checkout
  --rollback-workflow=FILE    deploy-catalog-airflow.yml           that workflow (default deploy-catalog-airflow.yml: check the name there, the repository is private)

Setup
-----

1. Note when the deploy begins
2. Check for an earlier run's leftovers, take the deploy lock (a check: it runs again on `--resume`)
   - Looks for what an earlier run left (the clearance flag true, an uncommitted bump, DAGs it paused, the deploy lock): a fresh run stops on it, `--resume` takes it over; then takes the deploy lock
3. Check that no DAGs are running (a check: it runs again on `--resume`)
   - `deploy::dags_to_pause`: The catalog's check: the DAGs tagged `data_refresh` whose runs wait on an HTTP sensor (to pause for the deploy: Airflow restarts, the ingestion server goes on working).
     - For each `run` in `runs`:
       - `deploy::waiting_on_sensor`: True when every unfinished task of `run` is an HTTP sensor waiting between pokes.
         - Waits for {run.dag_id}: its sensor to end its poke (up to 1m, every 5s)
4. Check the infrastructure checkout (a check: it runs again on `--resume`)
   - Checks that the infrastructure checkout is on main, clean and at origin's main (on `--resume`, as the run it goes on with left it)
5. Note the last stable release, for a rollback
   - Notes the newest published release, or the image production runs if it is another: what a rollback goes back to
6. Publish the drafted catalog release
   - Shows the newest draft release of catalog- and its notes, asks, and publishes it on GitHub, the tag confirmed pinned (going on with a run that died while publishing: adopts what it published)

Deployment
----------

Production only, after the app is built and tagged. The team's channel is told when it starts and how it ends, whatever happens.

1. Posts to the team's channel who deploys which release to production
2. Wait for the release's image in the registry
   - Waits for {--image}:rel-... of {release.tag_name} in the registry (up to --image-timeout (30m by default), every 15s)
3. With the DAGs of `to_pause` paused (unpaused after, whatever happens)
   - Bump the catalog version: just bump prod catalog-airflow
     - Runs `just bump prod catalog-airflow`
     - Checks that the bump set the image of the release waited for in the registry
   - Set running_dags_cleared = true, just apply prod catalog-airflow, restore false
     - Checks Airflow again with the deployment's check: a DAG waiting on its sensor that is not among to_pause stops it, nothing applied
     - With `running_dags_cleared = true` in `environments/prod/catalog-airflow.tf` (set before, restored after, whatever happens), runs `just apply prod catalog-airflow`
     - If it fails:
       - If `just apply` started and failed: offers the rollback to stable (as {--rollback} says: `workflow` dispatches the infrastructure repository's workflow {--rollback-workflow} with its rel- tag; `local` sets its rel- tag in the .tf file and applies it through the same guarded apply); if it succeeded and only the flag's restore failed: says so, leaves `running_dags_cleared = false` to set by hand, no rollback

Post-deployment
---------------

1. Check for Sentry errors
   - Asks Sentry for new unresolved errors of {--sentry-project} since {began}, watching for --watch; any: shows them, offers the rollback to stable (as {--rollback} says: `workflow` dispatches the infrastructure repository's workflow {--rollback-workflow} with its rel- tag; `local` sets its rel- tag in the .tf file and applies it through the same guarded apply); Sentry unreadable: says "NOT checked" and leaves it by hand
2. Check that Airflow is accessible and its version
   - Waits for Airflow to answer (up to 10m, every 15s)
   - If it fails:
     - Offers the rollback to stable (Airflow after the deploy: {message}): posts to the team's channel "treat this as a production incident", asks, then as {--rollback} says: `workflow` dispatches the infrastructure repository's workflow {--rollback-workflow} with its rel- tag; `local` sets its rel- tag in the .tf file and applies it through the same guarded apply
3. Approve the changelog PR
   - Finds the changelog PR of {release.tag_name}, asks, and approves it on GitHub (not there yet, declined or refused: left to do by hand)
4. Open a PR on the infrastructure repository
   - Commits `["environments/prod/catalog-airflow.tf"]` on the branch `deploy/catalog-airflow-{release.tag_name}`, pushes it, and opens its PR "Deploy catalog-airflow {release.tag_name}" into main on GitHub (left to review by hand)
5. Then, whatever happened:
   - Posts to the team's channel how it ended (done, failed and why, or interrupted), after how long, and what is left to do by hand
"##;

const INGESTION: &str = r##"Ingestion server deployment
===========================

Staging, then production, step by step.

Generated from scripts/ingestion.rhai without running it.

    ovscript run scripts/ingestion.rhai [-- OPTIONS]
    ovscript run --rehearse scripts/ingestion.rhai      (a simulated world, on this machine)

Options
-------

  --skip-staging             off                                           deploy production only (staging already runs this release)
  --watch=DURATION           none                                          watch Sentry this long after the deploy for new errors (e.g. 10m)
  --sentry-project=SLUG      none                                          the Sentry project to check (default: `project` under [sentry])
  --image=NAME               ghcr.io/wordpress/openverse-ingestion_server  the image the release workflow tags (default ghcr.io/wordpress/openverse-ingestion_server)
  --image-timeout=DURATION   30m                                           how long to wait for the release's rel- image before the bump (default 30m)
  --rollback=workflow|local  workflow                                      how to roll back: dispatch the infrastructure repository's workflow (default), or apply the stable rel- tag from this checkout
  --rollback-workflow=FILE   deploy-ingestion-server.yml                   that workflow (default deploy-ingestion-server.yml: check the name there, the repository is private)

Setup
-----

1. Note when the deploy begins
2. Check for an earlier run's leftovers, take the deploy lock (a check: it runs again on `--resume`)
   - Looks for what an earlier run left (the clearance flag true, an uncommitted bump, DAGs it paused, the deploy lock): a fresh run stops on it, `--resume` takes it over; then takes the deploy lock
3. Check that a data refresh isn't occurring (a check: it runs again on `--resume`)
   - `deploy::no_refresh_running`: The ingestion server's check: no run of a DAG tagged `data_refresh` at all.
4. Check the infrastructure checkout (a check: it runs again on `--resume`)
   - Checks that the infrastructure checkout is on main, clean and at origin's main (on `--resume`, as the run it goes on with left it)
5. Note the last stable release, for a rollback
   - Notes the newest published release, or the image production runs if it is another: what a rollback goes back to
6. Publish the drafted ingestion server release
   - Shows the newest draft release of ingestion_server- and its notes, asks, and publishes it on GitHub, the tag confirmed pinned (going on with a run that died while publishing: adopts what it published)

Deployment
----------

After the app is built and tagged. The team's channel is told when it starts and how it ends, whatever happens.

1. Posts to the team's channel who deploys which release to production
2. Wait for the release's image in the registry
   - Waits for {--image}:rel-... of {release.tag_name} in the registry (up to --image-timeout (30m by default), every 15s)
3. Unless `--skip-staging`:
   - Staging: just bump dev ingestion-server
     - Runs `just bump dev ingestion-server`
   - Staging: just apply dev ingestion-server
     - Runs `just apply dev ingestion-server`
4. With the DAGs of `deploy::refresh_dags()` paused (unpaused after, whatever happens)
   - Production: just bump prod ingestion-server
     - Runs `just bump prod ingestion-server`
     - Checks that the bump set the image of the release waited for in the registry
   - Set data_refresh_cleared = true, just apply prod ingestion-server, restore false
     - Checks Airflow again with the deployment's check: a DAG waiting on its sensor that is not among [] stops it, nothing applied
     - With `data_refresh_cleared = true` in `environments/prod/ingestion-server.tf` (set before, restored after, whatever happens), runs `just apply prod ingestion-server`
     - If it fails:
       - If `just apply` started and failed: offers the rollback to stable (as {--rollback} says: `workflow` dispatches the infrastructure repository's workflow {--rollback-workflow} with its rel- tag; `local` sets its rel- tag in the .tf file and applies it through the same guarded apply); if it succeeded and only the flag's restore failed: says so, leaves `data_refresh_cleared = false` to set by hand, no rollback

Post-deployment
---------------

1. Check for Sentry errors
   - Asks Sentry for new unresolved errors of {--sentry-project} since {began}, watching for --watch; any: shows them, offers the rollback to stable (as {--rollback} says: `workflow` dispatches the infrastructure repository's workflow {--rollback-workflow} with its rel- tag; `local` sets its rel- tag in the .tf file and applies it through the same guarded apply); Sentry unreadable: says "NOT checked" and leaves it by hand
2. Approve the changelog PR
   - Finds the changelog PR of {release.tag_name}, asks, and approves it on GitHub (not there yet, declined or refused: left to do by hand)
3. Open a PR on the infrastructure repository
   - Commits `files` on the branch `deploy/ingestion-server-{release.tag_name}`, pushes it, and opens its PR "Deploy ingestion-server {release.tag_name}" into main on GitHub (left to review by hand)
4. Then, whatever happened:
   - Posts to the team's channel how it ended (done, failed and why, or interrupted), after how long, and what is left to do by hand
"##;
