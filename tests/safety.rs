//! The safety invariants under a crash, a resume and a second operator, run by the real binary
//! against the simulated world (started here, so that it outlives a killed run) and a scratch
//! infrastructure repository with a bare origin, made from templates/infra: kill -9, resume,
//! two checkouts deploying at once, Ctrl-C and SIGTERM, and secrets.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovscript::journal::Event;
use ovscript::world::{Credentials, Faults, Scenario, World};

use crate::rehearsal::repo_file;
use crate::test::{
    copy_dir, git, journal_events_lenient, journal_text, lay_out_infra, path_with, tools_bin,
    Output, Test, TAKES_OVER,
};

const CATALOG_TF: &str = "environments/prod/catalog-airflow.tf";

/// A world, an origin and a checkout of it in a working directory: what an operator has.
struct Deploy {
    world: World,
    test: Test,
    origin: PathBuf,
}

impl Deploy {
    fn new(scenario: Scenario) -> Option<Deploy> {
        Deploy::with(scenario, Faults::default())
    }

    fn with(scenario: Scenario, faults: Faults) -> Option<Deploy> {
        let bin = tools_bin()?;
        let world = World::start_with(scenario, faults, Credentials::default()).expect("world");
        let test = Test::new();
        let origin = test.path().join("origin.git");
        lay_out_infra(&test.path().join("infra"), &origin);
        // The infrastructure's `just bump` points a service at the newest release's image: the
        // release each runbook publishes here.
        let test = configured(test, &world, "infra")
            .env("PATH", &path_with(&bin))
            .env(
                "OVSCRIPT_REHEARSE_IMAGE_TAG_CATALOG_AIRFLOW",
                "rel-2024.05.02.10.00.00",
            )
            .env(
                "OVSCRIPT_REHEARSE_IMAGE_TAG_INGESTION_SERVER",
                "rel-2024.05.02.10.05.00",
            );
        Some(Deploy {
            world,
            test,
            origin,
        })
    }

    fn infra(&self) -> PathBuf {
        self.test.path().join("infra")
    }

    fn tf(&self) -> String {
        std::fs::read_to_string(self.infra().join(CATALOG_TF)).unwrap()
    }

    /// The catalog runbook with `--yes` and `extra` flags.
    fn catalog(&self, extra: &[&str]) -> Output {
        let mut argv = vec!["run".to_string(), "--yes".into()];
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv.push(repo_file("scripts/catalog.rhai"));
        self.test.command(&argv)
    }

    /// The catalog runbook started in its own process group, for signals.
    fn spawn_catalog(&self, env: &[(&str, &str)]) -> Child {
        self.spawn_catalog_with(&[], env)
    }

    /// The same with `extra` flags (`--resume ID`).
    fn spawn_catalog_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Child {
        let script = repo_file("scripts/catalog.rhai");
        let mut argv = vec!["run", "--yes"];
        argv.extend_from_slice(extra);
        argv.push(&script);
        let mut command = self.test.prepare(&argv);
        command.stdin(Stdio::null()).process_group(0);
        for (name, value) in env {
            command.env(name, value);
        }
        command.spawn().expect("spawn ovscript")
    }

    /// The branches of origin and, for each, whether its catalog .tf holds a flag set true.
    fn origin_branches(&self) -> Vec<String> {
        git(
            &self.origin,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// No commit on any branch of origin holds a clearance flag set to true.
    fn origin_never_holds_true(&self) {
        let log = git(&self.origin, &["log", "--all", "-p", "--format=%H"]);
        assert!(
            !log.lines().any(|l| {
                let Some((key, value)) = l.strip_prefix('+').and_then(|l| l.split_once('=')) else {
                    return false;
                };
                key.trim().ends_with("_cleared") && value.trim() == "true"
            }),
            "origin holds a flag set true:\n{log}"
        );
    }

    fn recipes(&self) -> Vec<serde_json::Value> {
        recipes_of(&self.infra())
    }
}

fn recipes_of(infra: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(infra.join(".rehearsal/recipes.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `test` with its configuration pointed at `world` and the checkout `infra` (relative).
fn configured(test: Test, world: &World, infra: &str) -> Test {
    test.world(world)
        .env("OVSCRIPT_INFRA_DIR", infra)
        .env("GIT_AUTHOR_NAME", "Ada Operator")
        .env("GIT_AUTHOR_EMAIL", "ada@example.org")
        .env("GIT_COMMITTER_NAME", "Ada Operator")
        .env("GIT_COMMITTER_EMAIL", "ada@example.org")
}

/// Waits until the journals in `dir` show an event that `seen` accepts (`what`, for the failure).
fn wait_for_event(dir: &Path, what: &str, seen: impl Fn(&Event) -> bool) {
    let started = Instant::now();
    loop {
        if journal_events_lenient(dir).iter().any(&seen) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {what} in the journal after 60s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `event` is the start of the `apply` recipe.
fn starts_the_apply(event: &Event) -> bool {
    matches!(event, Event::JustStart { recipe, .. } if recipe == "apply")
}

/// The run id of the newest journal in `dir` (by time written: run ids of one second do not
/// sort by time).
fn newest_run(dir: &Path) -> String {
    crate::test::journal_files(dir)
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .expect("a journal")
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The processes under `pid` (from /proc), found before anything is killed: a recipe runs in a
/// process group of its own, which a kill of ovscript's group does not reach.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(candidate) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let parent = stat.rfind(')').and_then(|at| {
                stat[at + 1..]
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            });
            if parent == Some(found[i]) && !found.contains(&candidate) {
                found.push(candidate);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

/// kill -9 of every process a run has: ovscript's group and the recipes' own groups (as when
/// the machine's session is killed whole).
fn kill_all_of(pids: &[u32]) {
    // Each one's group too: a recipe leads its own, and a process it forks after the scan is
    // in that group.
    for pid in pids {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &pid.to_string(), &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
}

fn signal(child: &Child, signal: &str, group: bool) {
    // ovscript first, so that it cannot see its recipe die and restore: a kill of everything.
    let recipes = if group && signal == "KILL" {
        descendants(child.id())
    } else {
        Vec::new()
    };
    let target = if group {
        format!("-{}", child.id())
    } else {
        child.id().to_string()
    };
    let status = Command::new("kill")
        .args([&format!("-{signal}"), "--", &target])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {target}");
    kill_all_of(&recipes);
}

fn finish(child: Child) -> (Option<i32>, String, String) {
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Kills the whole process group of a run once its production apply started.
fn kill_during_apply(deploy: &Deploy) {
    let child = deploy.spawn_catalog(&[("OVSCRIPT_REHEARSE_APPLY_SLEEP", "30")]);
    wait_for_event(deploy.test.path(), "apply start", starts_the_apply);
    signal(&child, "KILL", true);
    let (code, _, _) = finish(child);
    assert_eq!(code, None, "killed by a signal");
}

#[test]
fn after_kill_9_a_fresh_run_refuses_and_resume_finishes_with_the_flag_false() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    kill_during_apply(&deploy);
    assert!(
        deploy.tf().contains("running_dags_cleared = true"),
        "the kill left the flag"
    );
    let killed = newest_run(deploy.test.path());

    // A fresh run: stops before any change, naming the flag and the killed run.
    let before = deploy.world.changes().len();
    deploy
        .catalog(&[])
        .code(1)
        .stderr_has("not deploying: run ")
        .stderr_has(&killed)
        .stderr_has("running_dags_cleared = true in environments/prod/catalog-airflow.tf")
        .stderr_has(&format!("--resume {killed}"));
    assert_eq!(
        deploy.world.changes().len(),
        before,
        "the refused run changed the world"
    );
    assert_eq!(
        deploy
            .recipes()
            .iter()
            .filter(|r| r["recipe"] == "apply")
            .count(),
        0
    );

    // --resume finishes it: the flag is true only while its apply runs, false after.
    deploy
        .catalog(&["--resume", &killed])
        .success()
        .stdout_has(&format!("going on with run {killed}"))
        .stdout_has("took over the deploy lock");
    let applies: Vec<_> = deploy
        .recipes()
        .into_iter()
        .filter(|r| r["recipe"] == "apply")
        .collect();
    assert_eq!(applies.len(), 1, "{applies:?}");
    assert_eq!(applies[0]["flag"], true);
    assert!(
        deploy.tf().contains("running_dags_cleared = false"),
        "{}",
        deploy.tf()
    );
    deploy.origin_never_holds_true();
    assert!(
        !deploy
            .origin_branches()
            .contains(&"deploy-lock".to_string()),
        "the lock is released: {:?}",
        deploy.origin_branches()
    );
    assert_eq!(
        deploy.world.opened_prs().len(),
        1,
        "the infrastructure PR was opened"
    );
}

#[test]
fn two_checkouts_of_one_origin_deploy_one_at_a_time() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    // A second operator's checkout of the same origin, in another working directory.
    let other = Test::new();
    git(
        other.path(),
        &["clone", "--quiet", deploy.origin.to_str().unwrap(), "infra"],
    );
    let other =
        configured(other, &deploy.world, "infra").env("PATH", &path_with(&tools_bin().unwrap()));

    let first = deploy.spawn_catalog(&[("OVSCRIPT_REHEARSE_APPLY_SLEEP", "5")]);
    wait_for_event(deploy.test.path(), "lock taken", |e| {
        matches!(e, Event::LockTaken { .. })
    });
    let first_run = newest_run(deploy.test.path());
    for runbook in ["catalog", "ingestion"] {
        other
            .command(&[
                "run",
                "--yes",
                &repo_file(&format!("scripts/{runbook}.rhai")),
            ])
            .code(1)
            .stderr_has("another deploy holds the lock: run ")
            .stderr_has(&first_run)
            .stderr_has("Ada Operator");
    }
    assert!(recipes_of(&other.path().join("infra")).is_empty());
    let (code, stdout, stderr) = finish(first);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(!deploy
        .origin_branches()
        .contains(&"deploy-lock".to_string()));
}

#[test]
fn the_lock_is_released_after_success_failure_ctrl_c_and_sigterm() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    let lock_free = |what: &str| {
        assert!(
            !deploy
                .origin_branches()
                .contains(&"deploy-lock".to_string()),
            "the lock is held after {what}"
        );
    };
    // Failure first: the draft is still there to publish.
    deploy
        .test
        .command(&[
            "run",
            "--yes",
            &repo_file("scripts/catalog.rhai"),
            "--watch=later",
        ])
        .code(2);
    lock_free("a usage error");
    let failing = deploy.spawn_catalog(&[("OVSCRIPT_REHEARSE_APPLY_FAILS", "1")]);
    let (code, _, stderr) = finish(failing);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("just apply prod catalog-airflow failed"),
        "{stderr}"
    );
    lock_free("a failed apply");
    // That failure offered the rollback (--yes took it); an interruption must not.
    let dispatched = deploy.world.dispatches().len();
    assert_eq!(dispatched, 1);
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        // --resume the failed run each time: it holds no leftovers but its bump.
        let journals_before = crate::test::journal_files(deploy.test.path()).len();
        let child = {
            let script = repo_file("scripts/catalog.rhai");
            let last = newest_run(deploy.test.path());
            let mut command = deploy
                .test
                .prepare(&["run", "--yes", "--resume", &last, &script]);
            command
                .stdin(Stdio::null())
                .process_group(0)
                .env("OVSCRIPT_REHEARSE_APPLY_SLEEP", "20");
            command.spawn().unwrap()
        };
        let started = Instant::now();
        loop {
            let files = crate::test::journal_files(deploy.test.path());
            let newest = files
                .iter()
                .max_by_key(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
                .cloned();
            let applying = files.len() > journals_before
                && newest.is_some_and(|f| {
                    crate::test::journal_file_events_lenient(&f)
                        .iter()
                        .any(starts_the_apply)
                });
            if applying {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no apply");
            std::thread::sleep(Duration::from_millis(50));
        }
        signal(&child, name, false);
        let (got, stdout, stderr) = finish(child);
        assert_eq!(got, Some(code), "SIG{name}\n{stdout}\n{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            !stdout.contains("Roll back"),
            "a rollback was offered: {stdout}"
        );
        assert!(deploy.tf().contains("running_dags_cleared = false"));
        lock_free(&format!("SIG{name}"));
    }
    assert_eq!(
        deploy.world.dispatches().len(),
        dispatched,
        "an interruption offered a rollback"
    );
    // And success: the last interrupted run, resumed, finishes and lets go.
    deploy
        .catalog(&["--resume", &newest_run(deploy.test.path())])
        .success();
    lock_free("success");
    deploy.origin_never_holds_true();
}

#[test]
fn a_double_ctrl_c_in_a_sensor_waiting_deploy_unpauses_the_dag_and_restores_the_flag() {
    let Some(deploy) = Deploy::new(Scenario::SensorWaiting) else {
        return;
    };
    let child = deploy.spawn_catalog(&[("OVSCRIPT_REHEARSE_APPLY_SLEEP", "37")]);
    wait_for_event(deploy.test.path(), "apply start", starts_the_apply);
    assert_eq!(deploy.world.dag_paused("image_data_refresh"), Some(true));
    signal(&child, "INT", false);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT", false);
    let (code, _, stderr) = finish(child);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(
        deploy.world.dag_paused("image_data_refresh"),
        Some(false),
        "{stderr}"
    );
    assert!(
        deploy.tf().contains("running_dags_cleared = false"),
        "{stderr}"
    );
    assert!(
        !deploy
            .origin_branches()
            .contains(&"deploy-lock".to_string()),
        "{stderr}"
    );
    // Nothing of the apply is left running.
    let left = Command::new("pgrep")
        .args(["-f", "sleep 37"])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "the apply still runs");
    // The journal says how it ended, and the history shows it so (not killed, not running).
    let ends: Vec<String> = journal_events_lenient(deploy.test.path())
        .into_iter()
        .filter_map(|e| match e {
            Event::RunEnd { outcome, .. } => Some(outcome.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(ends, ["interrupted"], "{stderr}");
    let log = deploy.test.command(&["log"]);
    assert!(log.stdout.contains("interrupted"), "{}", log.stdout);
    assert!(
        !log.stdout.contains("running") && !log.stdout.contains("killed"),
        "{}",
        log.stdout
    );
}

#[test]
fn resume_refuses_another_runbooks_journal_and_a_changed_script() {
    let Some(deploy) = Deploy::new(Scenario::DagRunning) else {
        return;
    };
    deploy.catalog(&[]).code(1).stderr_has("flickr_workflow");
    let run_id = newest_run(deploy.test.path());
    deploy
        .test
        .command(&[
            "run",
            "--yes",
            "--resume",
            &run_id,
            &repo_file("scripts/ingestion.rhai"),
        ])
        .code(2)
        .stderr_has(&format!("run {run_id} ran "))
        .stderr_has("catalog.rhai, not ")
        .stderr_has("ingestion.rhai");
    // The same runbook, changed since: refused unless --resume-changed.
    let copy = deploy.test.path().join("catalog.rhai");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib"),
        &deploy.test.path().join("stdlib"),
    );
    std::fs::write(
        &copy,
        std::fs::read_to_string(repo_file("scripts/catalog.rhai")).unwrap(),
    )
    .unwrap();
    let copy_run = deploy
        .test
        .command(&["run", "--yes", copy.to_str().unwrap()]);
    copy_run.code(1);
    let copy_id = newest_run(deploy.test.path());
    std::fs::write(
        &copy,
        std::fs::read_to_string(&copy).unwrap() + "\n// changed\n",
    )
    .unwrap();
    deploy
        .test
        .command(&["run", "--yes", "--resume", &copy_id, copy.to_str().unwrap()])
        .code(2)
        .stderr_has("changed since run")
        .stderr_has("--resume-changed");
    assert!(
        deploy.world.changes().is_empty(),
        "{:?}",
        deploy.world.changes()
    );
}

#[test]
fn a_late_typo_stops_the_run_before_anything_changes() {
    let test = Test::new()
        .file(
            "x.tf",
            "module \"m\" {\n  running_dags_cleared = false\n}\n",
        )
        .script(
            r#"
            tf.set("x.tf", "running_dags_cleared", true);
            step("later", || airflow.pausee("image_data_refresh"));
            "#,
        );
    test.run()
        .code(2)
        .stderr_has("script.rhai:3:38: unknown function pausee")
        .stderr_has("nothing was run");
    assert!(std::fs::read_to_string(test.path().join("x.tf"))
        .unwrap()
        .contains("running_dags_cleared = false"));
    Test::new()
        .script("airflow.pause();\ntf.set(\"a.tf\", \"b\");\nstep(\"x\");\nairflow.pause(42);\n")
        .command(&["check", "script.rhai"])
        .code(2)
        .stderr_has("script.rhai:1:9: airflow.pause(...) with 0 argument(s) matches no signature")
        .stderr_has("script.rhai:2:4: tf.set(...) with 2 argument(s) matches no signature; it can be called as tf.set(file: string, key: string, value: Dynamic)")
        .stderr_has("script.rhai:3:1: step(...) with 1 argument(s) matches no signature")
        .stderr_has("script.rhai:4:9: airflow.pause(...): argument 1 is an int")
        .stderr_has("4 problem(s) found");
}

#[test]
fn real_tokens_never_show_in_a_rehearsal_nor_trimmed_anywhere() {
    let real = "ghp_Operators0wnRealToken";
    let Some(bin) = tools_bin() else {
        return;
    };
    let test = Test::new()
        .flag("--rehearse")
        .env("PATH", &path_with(&bin))
        .env("OVSCRIPT_GITHUB_TOKEN", &format!("{real} "))
        .env("OVSCRIPT_AIRFLOW_PASSWORD", "hunter2-airflow")
        .script(&format!(
            r#"
            print(`env: ${{env("OVSCRIPT_GITHUB_TOKEN")}} ${{env("OVSCRIPT_AIRFLOW_PASSWORD")}}`);
            print("literal: {real} hunter2-airflow rehearsal-github-token");
            warn("{real}");
            "#
        ));
    let out = test.run();
    out.success()
        .stdout_has("env: ***  ***")
        .stdout_has("literal: *** *** ***");
    out.lacks(real)
        .lacks("hunter2-airflow")
        .lacks("rehearsal-github-token");
    let journal = journal_text(test.path());
    assert!(
        !journal.contains(real) && !journal.contains("hunter2"),
        "{journal}"
    );
    // The basic-auth header as sent is redacted too.
    use base64::Engine as _;
    let header = base64::engine::general_purpose::STANDARD.encode("deploy:hunter2-airflow");
    Test::new()
        .env("OVSCRIPT_AIRFLOW_USER", "deploy")
        .env("OVSCRIPT_AIRFLOW_PASSWORD", " hunter2-airflow")
        .script(&format!(
            r#"print("sent: Basic {header} and hunter2-airflow");"#
        ))
        .run()
        .success()
        .stdout_has("sent: Basic *** and ***");
}

#[test]
fn break_lock_removes_a_dead_runs_lock_and_a_dry_run_only_says_so() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    deploy
        .catalog(&["--dry-run"])
        .success()
        .stdout_has("would: take the deploy lock (deploy-lock in origin); it is free now");
    assert!(
        deploy.origin_branches() == ["main"],
        "{:?}",
        deploy.origin_branches()
    );
    kill_during_apply(&deploy);
    assert!(deploy
        .origin_branches()
        .contains(&"deploy-lock".to_string()));
    // --yes does not answer "type its run id": the lock stays.
    let killed = newest_run(deploy.test.path());
    deploy
        .catalog(&["--break-lock"])
        .code(1)
        .stderr_has("the run id was not typed (--yes does not answer this question)");
    assert!(deploy
        .origin_branches()
        .contains(&"deploy-lock".to_string()));
    // A wrong id neither.
    deploy
        .test
        .clone()
        .stdin("20200101T000000Z-someone\n")
        .command(&[
            "run",
            "--yes",
            "--break-lock",
            &repo_file("scripts/catalog.rhai"),
        ])
        .code(1)
        .stderr_has("the run id was not typed");
    // --break-lock removes the lock once its run id is typed, after saying how old it is; the
    // other leftovers still stop the run.
    deploy
        .test
        .clone()
        .stdin(&format!("{killed}\n"))
        .command(&[
            "run",
            "--yes",
            "--break-lock",
            &repo_file("scripts/catalog.rhai"),
        ])
        .code(1)
        .stderr_has("the deploy lock is held: run ")
        .stderr_has("ago, on ")
        .stdout_has("removed the deploy lock")
        .stderr_has("running_dags_cleared = true");
    assert!(!deploy
        .origin_branches()
        .contains(&"deploy-lock".to_string()));
}

#[test]
fn settings_that_would_switch_a_safety_off_are_refused() {
    for (file, key) in [
        (
            "[limits]\nmax_operations = 0\n",
            "[limits] max_operations = 0",
        ),
        ("[limits]\nmax_map_size = 0\n", "[limits] max_map_size = 0"),
        ("[airflow]\ntimeout = 0\n", "[airflow] timeout = 0"),
        // Limits past what can stop a runaway script: it would crash instead.
        (
            "[limits]\nmax_call_levels = 100000000\n",
            "[limits] max_call_levels = 100000000 is past what ovscript can keep safe (at most 256",
        ),
        (
            "[limits]\nmax_string_size = 99999999999\n",
            "[limits] max_string_size = 99999999999 is past",
        ),
        (
            "[limits]\nmax_operations = 9999999999999999\n",
            "[limits] max_operations = 9999999999999999 is past",
        ),
    ] {
        Test::new()
            .file("ovscript.toml", file)
            .script("print(1);")
            .run()
            .code(2)
            .stderr_has(key);
    }
    // At the most, a runaway recursion stops with the key to raise, no crash.
    Test::new()
        .file("ovscript.toml", "[limits]\nmax_call_levels = 256\n")
        .script("fn f(n) { if n == 0 { 0 } else { 1 + f(n - 1) } }\nprint(f(100000));\n")
        .run()
        .code(1)
        .stderr_has("max_call_levels");
}

#[test]
fn a_dry_run_break_lock_only_says_so_and_a_superseded_run_is_not_resumed() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    kill_during_apply(&deploy);
    let killed = newest_run(deploy.test.path());
    deploy
        .catalog(&["--dry-run", "--break-lock"])
        .stdout_has("would: remove the deploy lock of run");
    assert!(deploy
        .origin_branches()
        .contains(&"deploy-lock".to_string()));
    deploy.catalog(&["--resume", &killed]).success();
    let resumer = newest_run(deploy.test.path());
    deploy
        .catalog(&["--resume", &killed])
        .code(2)
        .stderr_has(&format!("run {killed} was resumed by run {resumer}"));
}

#[test]
fn the_bump_must_name_the_image_that_was_waited_for() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    let test = deploy.test.clone().env(
        "OVSCRIPT_REHEARSE_IMAGE_TAG_CATALOG_AIRFLOW",
        "rel-2099.01.01.00.00.00",
    );
    let script = repo_file("scripts/catalog.rhai");
    test.command(&["run", "--yes", &script])
        .code(1)
        .stderr_has("the bump set module.catalog-airflow.docker_image_tag = rel-2099.01.01.00.00.00, not rel-2024.05.02.10.00.00");
    assert!(deploy.recipes().iter().all(|r| r["recipe"] != "apply"));
}

#[test]
fn a_rollback_goes_back_to_what_production_ran() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    // Production runs an older image than the last published release (a run that published
    // and stopped before its bump, say).
    let infra = deploy.infra();
    let tf = std::fs::read_to_string(infra.join(CATALOG_TF)).unwrap();
    std::fs::write(
        infra.join(CATALOG_TF),
        tf.replace("rel-2024.04.01.12.00.00", "rel-2024.03.01.00.00.00"),
    )
    .unwrap();
    git(
        &infra,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@x",
            "commit",
            "-qam",
            "older",
        ],
    );
    git(&infra, &["push", "--quiet", "origin", "main"]);
    deploy
        .test
        .clone()
        .env("OVSCRIPT_REHEARSE_APPLY_FAILS", "1")
        .command(&["run", "--yes", &repo_file("scripts/catalog.rhai")])
        .code(1)
        .stderr_has("a rollback would go back to rel-2024.03.01.00.00.00");
    let dispatches = deploy.world.dispatches();
    assert_eq!(dispatches.len(), 1, "{dispatches:?}");
    assert_eq!(dispatches[0]["inputs"]["tag"], "rel-2024.03.01.00.00.00");
}

#[test]
fn a_checkout_behind_origin_is_refused() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    let other = deploy.test.path().join("other");
    git(
        deploy.test.path(),
        &[
            "clone",
            "--quiet",
            "--branch",
            "main",
            deploy.origin.to_str().unwrap(),
            "other",
        ],
    );
    std::fs::write(other.join("README"), "merged by someone else\n").unwrap();
    git(&other, &["add", "README"]);
    git(
        &other,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@x",
            "commit",
            "-qm",
            "merged",
        ],
    );
    git(&other, &["push", "--quiet", "origin", "main"]);
    deploy
        .catalog(&[])
        .code(1)
        .stderr_has("but origin's main is at")
        .stderr_has("run git pull there first");
    assert!(
        deploy.world.changes().is_empty(),
        "{:?}",
        deploy.world.changes()
    );
}

#[test]
fn a_run_still_going_is_neither_resumed_nor_deployed_over() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    let child = deploy.spawn_catalog(&[("OVSCRIPT_REHEARSE_APPLY_SLEEP", "30")]);
    wait_for_event(deploy.test.path(), "apply start", starts_the_apply);
    let going = newest_run(deploy.test.path());
    let before = deploy.world.changes().len();
    let still_running = format!(
        "run {going} is still running (ovscript, or a recipe it started such as just apply), in another terminal or process on this machine"
    );

    // In another terminal: going on with it would apply twice.
    deploy
        .catalog(&["--resume", &going])
        .code(2)
        .stderr_has(&still_running);
    // A fresh run names it as going on, not as killed.
    deploy
        .catalog(&[])
        .code(1)
        .stderr_has(&format!("run {going} of this runbook is deploying now"))
        .stderr_has("Nothing was changed. Wait for it to end.");
    deploy
        .test
        .command(&["log"])
        .success()
        .stdout_has("running");
    assert_eq!(
        deploy.world.changes().len(),
        before,
        "the refused runs changed the world"
    );

    // Its lock is not broken while it lives on this machine, whatever is typed or said.
    deploy
        .test
        .clone()
        .stdin(&format!("{going}\n"))
        .command(&[
            "run",
            "--yes",
            "--break-lock",
            &repo_file("scripts/catalog.rhai"),
        ])
        .code(1)
        .stderr_has(&format!("run {going} is alive on this machine"));
    assert!(deploy
        .origin_branches()
        .contains(&"deploy-lock".to_string()));

    // ovscript alone is killed: its apply goes on, and so does the run.
    let recipes = descendants(child.id());
    let mut child = child;
    signal(&child, "KILL", false);
    // Only the process: its output stays open while the recipe, which shares it, lives.
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");
    deploy
        .catalog(&["--resume", &going])
        .code(2)
        .stderr_has(&still_running);

    // The apply killed too: the run is dead and can be gone on with, by one run at a time.
    kill_all_of(&recipes);
    let resumer = deploy.spawn_catalog_with(
        &["--resume", &going],
        &[("OVSCRIPT_REHEARSE_APPLY_SLEEP", "30")],
    );
    let started = Instant::now();
    while !crate::test::journal_files(deploy.test.path())
        .iter()
        .any(|file| {
            !file.ends_with(format!("{going}.jsonl"))
                && crate::test::journal_file_events_lenient(file)
                    .iter()
                    .any(starts_the_apply)
        })
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the resumed run did not apply"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let resuming = newest_run(deploy.test.path());
    assert_ne!(resuming, going);
    deploy
        .catalog(&["--resume", &going])
        .code(2)
        .stderr_has(&format!(
            "run {going} is being gone on with by run {resuming}, which is still running"
        ));
    signal(&resumer, "KILL", true);
    finish(resumer);
}

/// Whether the journal of `run` in `dir` says the run ended (any outcome).
fn ended(dir: &Path, run: &str) -> bool {
    crate::test::journal_file_events_lenient(&dir.join(format!(".ovscript/journal/{run}.jsonl")))
        .iter()
        .any(|e| matches!(e, Event::RunEnd { .. }))
}

#[test]
fn kill_9_at_random_points_then_going_on_as_told_never_leaves_a_flag_set() {
    // Seeded: a failure names its round and delay, and reproduces.
    let mut seed: u64 = 0x5eed_0017;
    let mut tally: std::collections::BTreeMap<&str, usize> = Default::default();
    for round in 0..8 {
        let Some(deploy) = Deploy::new(Scenario::Calm) else {
            return;
        };
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(100 + (seed >> 33) % 6_000);
        let context = format!("round {round}, kill -9 after {delay:?}");
        let child = deploy.spawn_catalog(&[("OVSCRIPT_REHEARSE_APPLY_SLEEP", "2")]);
        std::thread::sleep(delay);
        signal(&child, "KILL", true);
        finish(child);
        let killed = newest_run(deploy.test.path());
        if ended(deploy.test.path(), &killed) {
            *tally.entry("finished before the kill").or_default() += 1;
        } else {
            // Go on as a fresh run says: it deploys (nothing was left), or names the run to
            // resume, which then finishes.
            let fresh = deploy.catalog(&[]);
            if fresh.code == Some(0) {
                *tally
                    .entry("nothing left: a fresh run deployed")
                    .or_default() += 1;
            } else {
                assert!(
                    fresh.stderr.contains(&format!("--resume {killed}")),
                    "{context}: a fresh run neither deployed nor named the killed run:\n{}",
                    fresh.stderr
                );
                deploy.catalog(&["--resume", &killed]).success();
                *tally.entry("resumed and finished").or_default() += 1;
            }
        }
        assert!(
            deploy.tf().contains("running_dags_cleared = false"),
            "{context}: {}",
            deploy.tf()
        );
        assert!(
            !deploy
                .origin_branches()
                .contains(&"deploy-lock".to_string()),
            "{context}: the lock is held"
        );
        deploy.origin_never_holds_true();
    }
    eprintln!("kill -9 at random points: {tally:?}");
}

/// `script` rehearsed in the calm world with `--yes`, with just and terraform from `bin`.
fn rehearse_calm(bin: &Path, script: &str) -> Output {
    Test::new()
        .env("PATH", &path_with(bin))
        .script(script)
        .flag("--rehearse=calm")
        .flag("--yes")
        .run()
}

#[test]
fn production_recipes_need_the_lock_and_the_apply_a_raised_flag_whatever_the_script_says() {
    let Some(bin) = tools_bin() else {
        return;
    };
    let rehearse = |script: &str| rehearse_calm(&bin, script);
    // A bare production apply: no lock, no flag.
    rehearse(r#"just("apply", "prod", "catalog-airflow");"#)
        .code(1)
        .stderr_has(
            "`just apply prod catalog-airflow` changes production, and this run does not hold the deploy lock: nothing was changed",
        )
        .stdout_has("recipes:\n    (none)");
    // The lock taken by hand, with no look for an earlier run's leftovers.
    rehearse(r#"git.lock(); just("bump", "prod", "catalog-airflow");"#)
        .code(1)
        .stderr_has("`just bump prod catalog-airflow` changes production, and this run has not checked for an earlier run's leftovers: nothing was changed")
        .stdout_has("recipes:\n    (none)");
    // Taken over, but the flag left false, or another service's raised.
    rehearse(&format!(r#"{TAKES_OVER} just("apply", "prod", "catalog-airflow");"#))
        .code(1)
        .stderr_has("`just apply prod catalog-airflow` applies production with no clearance flag of environments/prod/catalog-airflow.tf raised: nothing was run")
        .stdout_has("recipes:\n    (none)");
    rehearse(&format!(
        r#"{TAKES_OVER} tf.with("environments/prod/ingestion-server.tf", "data_refresh_cleared", true, || just("apply", "prod", "catalog-airflow"));"#
    ))
    .code(1)
    .stderr_has("no clearance flag of environments/prod/catalog-airflow.tf raised")
    .stdout_has("recipes:\n    (none)");
    // Nor can a script leave the flag true.
    rehearse(&format!(
        r#"{TAKES_OVER} tf.set("environments/prod/catalog-airflow.tf", "running_dags_cleared", true);"#
    ))
    .code(1)
    .stderr_has("tf.set would leave the clearance flag module.catalog-airflow.running_dags_cleared true");
    // Both: it applies, with the flag true, and false after.
    let out = rehearse(&format!(
        r#"{TAKES_OVER} tf.with("environments/prod/catalog-airflow.tf", "running_dags_cleared", true, || just("apply", "prod", "catalog-airflow"));"#,
    ));
    out.success()
        .stdout_has("just apply prod catalog-airflow: clearance flag true, exit code 0");
    // Not production: no lock needed.
    rehearse(r#"just("bump", "dev", "ingestion-server");"#).success();
}

/// The other production changes are the host's to allow too: the publish, a DAG's pause, a
/// workflow's dispatch. Unpausing puts back, and is always allowed.
#[test]
fn publish_pause_and_dispatch_need_the_deployment_taken_over() {
    let Some(bin) = tools_bin() else {
        return;
    };
    let rehearse = |script: &str| rehearse_calm(&bin, script);
    for (script, refused) in [
        (
            r#"github.publish_release(github.draft_release("catalog-"));"#,
            "Publishing the release catalog-2024.05.02.10.00.00 changes production",
        ),
        (
            r#"airflow.pause("image_data_refresh");"#,
            "Pausing the DAG image_data_refresh changes production",
        ),
        (
            r#"airflow.while_paused(["image_data_refresh"], || print("inside"));"#,
            "Pausing the DAG image_data_refresh changes production",
        ),
        (
            r#"github.dispatch_workflow(github.infra_repo(), "deploy-catalog-airflow.yml", "main", #{ tag: "rel-1" });"#,
            "Dispatching the workflow deploy-catalog-airflow.yml of WordPress/openverse-infrastructure changes production",
        ),
    ] {
        let out = rehearse(script);
        out.code(1)
            .stderr_has(refused)
            .stderr_has("this run does not hold the deploy lock: nothing was changed")
            .stdout_lacks("inside")
            .stdout_has("API calls that changed state:\n    (none)");
        let taken_over = rehearse(&format!("{TAKES_OVER} {script}"));
        taken_over.success();
        assert!(
            !taken_over.stdout.contains("API calls that changed state:\n    (none)"),
            "{script}: {}",
            taken_over.stdout
        );
    }
    rehearse(r#"print(airflow.unpause("image_data_refresh"));"#).success();
}

#[test]
fn a_catalog_runbook_without_its_lock_line_changes_no_production() {
    let Some(bin) = tools_bin() else {
        return;
    };
    // A careless edit: the line that takes the deploy lock deleted.
    let runbook = std::fs::read_to_string(repo_file("scripts/catalog.rhai")).unwrap();
    let edited: String = runbook
        .lines()
        .filter(|l| !l.contains(".take_over()"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(edited, runbook);
    let test = Test::new()
        .env("PATH", &path_with(&bin))
        .file("scripts/catalog.rhai", &edited);
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib"),
        test.path().join("stdlib"),
    )
    .unwrap();
    let out = test.command(&["run", "--rehearse=calm", "--yes", "scripts/catalog.rhai"]);
    out.code(1)
        .stderr_has("Publishing the release catalog-2024.05.02.10.00.00 changes production, and this run does not hold the deploy lock: nothing was changed")
        .stdout_has("API calls that changed state:\n    (none)")
        .stdout_has("recipes:\n    (none)");
}

#[test]
fn a_publish_in_flight_when_the_run_died_is_adopted_on_resume_not_repeated() {
    let Some(deploy) = Deploy::new(Scenario::Calm) else {
        return;
    };
    let child = deploy.spawn_catalog(&[("OVSCRIPT_REHEARSE_APPLY_SLEEP", "30")]);
    wait_for_event(deploy.test.path(), "the publish", |e| {
        matches!(e, Event::GithubReleasePublished { .. })
    });
    signal(&child, "KILL", true);
    finish(child);
    let killed = newest_run(deploy.test.path());
    // As if it was killed while GitHub answered: the publish happened, the journal never knew.
    let journal = deploy
        .test
        .path()
        .join(format!(".ovscript/journal/{killed}.jsonl"));
    let kept: String = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .take_while(|line| !line.contains("\"github_release_published\""))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&journal, kept).unwrap();
    let published = |world: &World| {
        world
            .changes()
            .iter()
            .filter(|c| c.contains("published release"))
            .count()
    };
    assert_eq!(published(&deploy.world), 1);
    deploy
        .catalog(&["--resume", &killed])
        .success()
        .stdout_has(&format!("after run {killed} began: going on with it"));
    assert_eq!(published(&deploy.world), 1, "{:?}", deploy.world.changes());
    assert!(deploy.tf().contains("running_dags_cleared = false"));
}

/// Going on with a run whose bump and apply are done: the DAGs are not paused and unpaused
/// again around steps that are all skipped.
#[test]
fn a_resume_past_the_apply_pauses_nothing() {
    let Some(deploy) = Deploy::new(Scenario::SensorWaiting) else {
        return;
    };
    let script = repo_file("scripts/catalog.rhai");
    let mut command = deploy
        .test
        .prepare(&["run", "--yes", script.as_str(), "--", "--watch=1h"]);
    command.stdin(Stdio::null()).process_group(0);
    let child = command.spawn().expect("spawn ovscript");
    wait_for_event(
        deploy.test.path(),
        "the Sentry check",
        |e| matches!(e, Event::StepStart { title, .. } if title == "Check for Sentry errors"),
    );
    signal(&child, "KILL", true);
    finish(child);
    let killed = newest_run(deploy.test.path());
    let pauses = |requests: &[ovscript::world::Request]| {
        requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.contains("/dags/image_data_refresh"))
            .map(|r| r.body.clone().unwrap_or_default()["is_paused"].to_string())
            .collect::<Vec<_>>()
    };
    let before = deploy.world.requests().len();
    assert_eq!(
        pauses(&deploy.world.requests()),
        ["true", "false"],
        "the first run paused and unpaused"
    );
    deploy.catalog(&["--resume", &killed]).success();
    let resumed = deploy.world.requests().split_off(before);
    assert_eq!(
        pauses(&resumed),
        Vec::<String>::new(),
        "nothing paused again"
    );
    assert_eq!(deploy.world.dag_paused("image_data_refresh"), Some(false));
    assert!(!deploy.tf().contains("running_dags_cleared = true"));
}

/// Killed inside "Open a PR on the infrastructure repository" after its branch, after its
/// commit, or with everything done but the journal cut before it said so: each `--resume`
/// finishes with one PR and one commit, the earlier run's work adopted, never refused as
/// "already exists".
#[test]
fn a_resume_inside_the_infrastructure_pr_adopts_what_was_done() {
    let Some(tools) = tools_bin() else {
        return;
    };
    // git, slowed before the PR step's add, commit and push: a kill after the branch or the
    // commit lands before the next of them, however loaded the machine. ovscript puts its `-c`
    // options before the subcommand, hence the leading `*`.
    let real_git = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let slow = tempfile::tempdir().unwrap();
    let wrapper = slow.path().join("git");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *' add '*environments/*|*' commit '*Deploy*|*' push '*deploy/*) sleep 3;; esac\nexec {} \"$@\"\n",
            real_git.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let slow_path = format!("{}:{}", slow.path().display(), path_with(&tools));
    let git_done = |command: &'static str| move |e: &Event| matches!(e, Event::Git { args, code: Some(0), .. } if args.first().is_some_and(|a| a == command));
    for (point, cut) in [("checkout", false), ("commit", false), ("push", true)] {
        let deploy = Deploy::new(Scenario::Calm).unwrap();
        let killed = if cut {
            deploy.catalog(&[]).success();
            let run = newest_run(deploy.test.path());
            let journal = deploy
                .test
                .path()
                .join(format!(".ovscript/journal/{run}.jsonl"));
            let text = std::fs::read_to_string(&journal).unwrap();
            let mut kept = String::new();
            for line in text.lines() {
                kept.push_str(line);
                kept.push('\n');
                if line.contains("\"event\":\"git\"")
                    && line.contains("\"push\"")
                    && line.contains("deploy/")
                {
                    break;
                }
            }
            std::fs::write(&journal, kept).unwrap();
            run
        } else {
            let child = deploy.spawn_catalog(&[("PATH", slow_path.as_str())]);
            wait_for_event(deploy.test.path(), point, git_done(point));
            signal(&child, "KILL", true);
            finish(child);
            if point == "checkout" {
                // As if the kill had landed inside the `git add` that follows: git's index lock
                // is left behind, and a resume must not fail on it forever.
                std::fs::write(deploy.infra().join(".git/index.lock"), "").unwrap();
            }
            newest_run(deploy.test.path())
        };
        let out = deploy.catalog(&["--resume", &killed]);
        out.success();
        if point == "checkout" {
            out.stderr_has(
                "index.lock: a git command of the run being resumed was killed while holding it",
            );
        }
        let opened = deploy.world.opened_prs();
        assert_eq!(opened.len(), 1, "after {point}: {opened:?}\n{}", out.stderr);
        assert_eq!(
            git(&deploy.infra(), &["log", "--format=%s", "main..HEAD"]),
            "Deploy catalog-airflow catalog-2024.05.02.10.00.00",
            "after {point}: one commit on the branch"
        );
        if cut {
            out.stdout_has("on the branch deploy/catalog-airflow-catalog-2024.05.02.10.00.00 already: going on with it")
                .stdout_has("already: going on with it")
                .stdout_has("is open already: https://github.com/WordPress/openverse-infrastructure/pull/");
        }
    }
}
