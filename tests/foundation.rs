//! The runtime every runbook relies on: exit codes, errors with their place, limits, the
//! journal, `--resume`, confirmations, secrets, objects everywhere, Ctrl-C, check, doc.

use crate::test::{journal_text, Test};
use ovscript::journal::Event;
use std::time::{Duration, Instant};

#[test]
fn a_script_runs_its_steps_and_sees_its_arguments() {
    let out = Test::new()
        .script(
            r#"
            let n = step("Count the arguments", || args.len());
            step("Say them", || info("args: " + args[0] + "," + args[1] + " n=" + n));
        "#,
        )
        .arg("--skip-staging")
        .arg("x y")
        .run();
    out.success()
        .stdout_has("==> [1] Count the arguments")
        .stdout_has("ok [1] Count the arguments: done")
        .stdout_has("args: --skip-staging,x y n=2")
        .stdout_has("ok [2] Say them: done");
    let journal = out.events();
    let Some(Event::RunStart {
        args,
        sha256,
        dry_run,
        ..
    }) = journal.iter().find(|e| matches!(e, Event::RunStart { .. }))
    else {
        panic!("no run start in {journal:?}");
    };
    assert_eq!(args, &["--skip-staging", "x y"]);
    assert_eq!(sha256.len(), 64);
    assert!(!dry_run);
    let ends: Vec<usize> = journal
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::StepEnd { .. }))
        .map(|(at, _)| at)
        .collect();
    assert_eq!(ends.len(), 2);
    let Event::StepEnd { outcome, value, .. } = &journal[ends[0]] else {
        unreachable!()
    };
    assert_eq!(outcome, "ok");
    assert_eq!(value, &serde_json::json!(2));
    // A missing duration would read as 0: that it was written is in the raw line.
    let raw = crate::test::journal_lines(&out.dir);
    assert!(raw[ends[0]]["duration_ms"].is_u64());
}

#[test]
fn a_syntax_error_exits_2_with_its_place_and_runs_no_step() {
    let out = Test::new()
        .script("step(\"one\", || info(\"ran\"));\nlet b = 1 +;\n")
        .run();
    out.code(2)
        .stderr_has("script.rhai:2:12")
        .stderr_has("2 | let b = 1 +;")
        .stdout_lacks("ran")
        .stdout_lacks("[1]");
    assert!(out
        .events()
        .iter()
        .all(|e| !matches!(e, Event::StepStart { .. })));
}

#[test]
fn a_runtime_error_shows_the_line_with_a_caret_and_exits_1() {
    let out = Test::new()
        .script(
            "fn deploy() {\n    throw \"the apply failed\";\n}\nstep(\"Deploy\", || deploy());\n",
        )
        .run();
    out.code(1)
        .stderr_has("script.rhai:2:5: the apply failed")
        .stderr_has("2 |     throw \"the apply failed\";")
        .stderr_has("  |     ^")
        .stderr_has("in function deploy, called at script.rhai:4:")
        .stdout_has("FAILED [1] Deploy: failed")
        // Nothing finished, so there is nothing to go on from.
        .lacks("--resume");
    let Some(Event::StepEnd { outcome, error, .. }) = out
        .events()
        .into_iter()
        .find(|e| matches!(e, Event::StepEnd { .. }))
    else {
        panic!("no step end");
    };
    assert_eq!(outcome, ovscript::journal::Outcome::Error);
    assert_eq!(error.as_deref(), Some("the apply failed"));
}

#[test]
fn a_missing_script_is_a_usage_error() {
    Test::new()
        .command(&["run", "nope.rhai"])
        .code(2)
        .stderr_has("cannot read nope.rhai");
}

#[test]
fn a_runaway_loop_stops_with_a_clear_error() {
    let started = Instant::now();
    let out = Test::new().script("let i = 0;\nloop { i += 1; }\n").run();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    out.code(1)
        .stderr_has("too many operations")
        .stderr_has("max_operations");
}

#[test]
fn limits_come_from_the_configuration() {
    Test::new()
        .file("ovscript.toml", "[limits]\nmax_operations = 500\n")
        .script("let s = 0; for i in 0..1000 { s += i; }")
        .run()
        .code(1)
        .stderr_has("too many operations");
    Test::new()
        .script("let s = \"x\"; loop { s += s; }")
        .run()
        .code(1)
        .stderr_has("script.rhai:1:");
}

#[test]
fn confirm_without_a_terminal_fails_and_yes_answers() {
    let script = r#"if confirm("Publish the release?") { info("published"); }"#;
    Test::new()
        .script(script)
        .run()
        .code(1)
        .stderr_has("standard input is not a terminal")
        .stderr_has("--yes")
        .stdout_lacks("published");
    let out = Test::new().script(script).flag("--yes").run();
    out.success()
        .stdout_has("Publish the release? [y/N] yes (--yes)")
        .stdout_has("published");
    let Some(Event::Confirm { answer, by, .. }) = out
        .events()
        .into_iter()
        .find(|e| matches!(e, Event::Confirm { .. }))
    else {
        panic!("no confirmation");
    };
    assert!(answer);
    assert_eq!(by, "--yes");
}

#[test]
fn resume_skips_the_steps_that_finished_and_hands_on_their_values() {
    let test = Test::new().file("fail", "").script(
        r#"
            let tag = step("Publish", || { info("publishing"); "catalog-2024" });
            step("Bump", || info("bumping " + tag));
            step("Apply", || { if env("FAIL") == "1" { throw "apply failed"; } info("applied"); });
        "#,
    );
    let first = test_with_env(&test, "1");
    first
        .code(1)
        .stdout_has("publishing")
        .stdout_has("bumping catalog-2024");
    let run_id = first.run_id();
    let second = test.command(&["run", "--resume", &run_id, "script.rhai"]);
    second
        .success()
        .stdout_has(&format!("[1] Publish: skipped, finished in run {run_id}"))
        .stdout_has(&format!("[2] Bump: skipped, finished in run {run_id}"))
        .stdout_has("applied");
    assert!(!second.stdout.contains("publishing"), "{}", second.stdout);
    assert!(!second.stdout.contains("bumping"), "{}", second.stdout);
}

fn test_with_env(test: &Test, fail: &str) -> crate::test::Output {
    let mut command = test.prepare(&["run", "script.rhai"]);
    command.env("FAIL", fail).stdin(std::process::Stdio::null());
    let output = command.output().unwrap();
    crate::test::Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir: test.path().to_path_buf(),
        _keep: test.dir.clone(),
    }
}

#[test]
fn resume_of_an_unknown_run_is_a_usage_error() {
    Test::new()
        .script("info(1);")
        .flag("--resume")
        .flag("20200101T000000Z-0000")
        .run()
        .code(2)
        .stderr_has("no journal for run 20200101T000000Z-0000");
}

#[test]
fn a_secret_from_the_environment_never_appears() {
    let secret = "s3cr3t-token-value";
    let out = Test::new()
        .env("OVSCRIPT_GITHUB_TOKEN", secret)
        .env("OVSCRIPT_AIRFLOW_PASSWORD", "pw-hunter2")
        .script(
            r#"
            let token = env("OVSCRIPT_GITHUB_TOKEN");
            print("token is " + token);
            info("info " + token);
            warn("warn " + token + env("OVSCRIPT_AIRFLOW_PASSWORD"));
            step("Use " + token, || token);
            throw "failed with " + token;
        "#,
        )
        .run();
    out.code(1)
        .lacks(secret)
        .lacks("pw-hunter2")
        .stdout_has("token is ***")
        .stderr_has("failed with ***");
    let journal = journal_text(&out.dir);
    assert!(journal.contains("***"), "{journal}");
    assert!(
        !journal.contains(secret) && !journal.contains("pw-hunter2"),
        "{journal}"
    );
}

#[test]
fn host_names_work_in_functions_and_imported_modules() {
    Test::new()
        .file("infra/main.tf", "module \"catalog-airflow\" {\n  running_dags_cleared = false\n}\n")
        .env("OVSCRIPT_INFRA_DIR", "infra")
        .file(
            "stdlib/deploy.rhai",
            "fn first_arg() { args[0] }\nfn flag() { tf.get(\"main.tf\", \"running_dags_cleared\") }\n",
        )
        .script(
            r#"
            import "deploy" as deploy;
            fn inner() { tf.get("main.tf", "running_dags_cleared") }
            info("top " + tf.get("main.tf", "running_dags_cleared") + " " + args[0]);
            info("function " + inner());
            info("module " + deploy::flag() + " " + deploy::first_arg());
        "#,
        )
        .arg("hello")
        .run()
        .success()
        .stdout_has("top false hello")
        .stdout_has("function false")
        .stdout_has("module false hello");
}

#[test]
fn a_module_is_found_in_the_projects_stdlib_beside_scripts() {
    Test::new()
        .file("stdlib/deploy.rhai", "fn hello() { \"from stdlib\" }\n")
        .file(
            "scripts/catalog.rhai",
            "import \"deploy\" as d;\ninfo(d::hello());\n",
        )
        .command(&["run", "scripts/catalog.rhai"])
        .success()
        .stdout_has("from stdlib");
}

#[test]
fn an_error_inside_a_module_names_the_module_file() {
    Test::new()
        .file(
            "stdlib/deploy.rhai",
            "fn boom() {\n  throw \"module failure\";\n}\n",
        )
        .script("import \"deploy\" as d;\nd::boom();\n")
        .run()
        .code(1)
        .stderr_has("stdlib/deploy.rhai:2:3: module failure");
}

#[test]
fn wait_until_polls_and_times_out_with_a_message() {
    Test::new()
        .script(
            r#"
            let n = 0;
            wait_until("the counter", 10, "0s", || { n += 1; n >= 3 });
            info("polled " + n);
            wait_until("never", "1s", "200ms", || false);
        "#,
        )
        .run()
        .code(1)
        .stdout_has("polled 3")
        .stdout_has("the counter: ready")
        .stderr_has("timed out after 1.0s waiting for never");
    Test::new()
        .script(r#"wait_until("x", "soon", 1, || true);"#)
        .run()
        .code(1)
        .stderr_has("wait_until timeout: `soon` is not a duration");
    Test::new()
        .script(r#"wait_until("x", 1, 1, || 5);"#)
        .run()
        .code(1)
        .stderr_has("must return true or false");
}

#[test]
fn ctrl_c_cancels_the_script_and_exits_130() {
    let test = Test::new().script(r#"step("Wait", || wait_until("forever", 600, 1, || false));"#);
    let mut child = test
        .prepare(&["run", "script.rhai"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_journal_event(test.path(), "wait start", |e| {
        matches!(e, Event::WaitStart { .. })
    });
    let started = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(5));
    let journal = crate::test::journal_events(test.path());
    let Some(Event::StepEnd { outcome, .. }) =
        journal.iter().find(|e| matches!(e, Event::StepEnd { .. }))
    else {
        panic!("no step end in {journal:?}");
    };
    assert_eq!(outcome, "interrupted");
    assert!(journal
        .iter()
        .any(|e| matches!(e, Event::RunEnd { outcome, .. } if outcome == "interrupted")));
}

/// Waits until the journals in `dir` show an event that `seen` accepts (`what`, for the failure).
fn wait_for_journal_event(dir: &std::path::Path, what: &str, seen: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if crate::test::journal_events_lenient(dir).iter().any(&seen) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {what} in the journal");
}

#[test]
fn configuration_errors_name_the_key() {
    Test::new()
        .file("ovscript.toml", "[airflow]\nurll = \"http://x\"\n")
        .script("info(1);")
        .run()
        .code(2)
        .stderr_has("urll");
    Test::new()
        .env("OVSCRIPT_SENTRY_TOKN", "x")
        .script("info(1);")
        .run()
        .code(2)
        .stderr_has("tokn")
        .stderr_has("OVSCRIPT_SENTRY_TOKN");
    Test::new()
        .script("info(1);")
        .command(&["run", "--config", "missing.toml", "script.rhai"])
        .code(2)
        .stderr_has("missing.toml");
}

#[test]
fn check_reports_unknown_functions_and_runs_nothing() {
    let out = Test::new()
        .file("stdlib/deploy.rhai", "fn helper() { 1 }\nfn broken() { nosuch_in_module() }\n")
        .script(
            "import \"deploy\" as deploy;\nfn mine(x) { x }\ninfo(\"ran\");\nmine(deploy::helper());\nlet f = |x| x;\nf(1);\nstep(\"s\", || publish_relase());\ndeploy::missing();\n",
        )
        .command(&["check", "script.rhai"]);
    out.code(2)
        .stdout_has("")
        .stderr_has(
            "script.rhai:7:14: unknown function publish_relase (did you mean publish_release?)",
        )
        .stderr_has("script.rhai:8:9: unknown function deploy::missing")
        .stderr_has("deploy.rhai:2:15: unknown function nosuch_in_module")
        .stderr_has("3 problem(s)")
        .lacks("ran");
    assert!(crate::test::journal_files(&out.dir).is_empty());
}

#[test]
fn check_passes_a_good_script_and_fails_a_syntax_error() {
    Test::new()
        .file(
            "good.rhai",
            "fn a() { step(\"x\", || info(now())) }\na();\n",
        )
        .command(&["check", "good.rhai"])
        .success()
        .stdout_has("ok: 1 script(s) checked");
    Test::new()
        .file("bad.rhai", "let x = ;\n")
        .command(&["check", "bad.rhai"])
        .code(2)
        .stderr_has("bad.rhai:1:9");
}

#[test]
fn doc_lists_host_functions_with_help_and_examples() {
    let out = Test::new().command(&["doc"]);
    out.success()
        .stdout_has("step(title: String, body: FnPtr)")
        .stdout_has("confirm(question: String) -> bool")
        .stdout_has("wait_until(")
        .stdout_has("e.g. ");
    let one = Test::new().command(&["doc", "confirm"]);
    one.success().stdout_has("confirm(").lacks("wait_until(");
    let json = Test::new().command(&["doc", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(parsed
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "now" && !f["help"].as_str().unwrap().is_empty()));
    Test::new()
        .command(&["doc", "nosuchthing"])
        .code(2)
        .stderr_has("no host function or object named `nosuchthing`");
}

#[test]
fn doc_writes_definitions_for_editors() {
    let test = Test::new();
    test.command(&["doc", "--definitions", "defs"]).success();
    let all: String = std::fs::read_dir(test.path().join("defs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(all.contains("fn wait_until("), "{all}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Test::new().command(&["completions", shell]);
        out.success().stdout_has("ovscript");
    }
}

#[test]
fn plain_output_without_a_terminal_has_no_colour_codes() {
    let out = Test::new()
        .script(r#"step("One", || warn("careful"));"#)
        .run();
    out.success();
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'),
        "{:?}",
        out.stdout
    );
    out.stderr_has("warning: careful");
}

#[test]
fn always_runs_its_cleanup_after_an_error_and_after_ctrl_c() {
    Test::new()
        .script(r#"always(|| { throw "deploy failed"; }, || info("unpaused"));"#)
        .run()
        .code(1)
        .stdout_has("unpaused")
        .stderr_has("deploy failed");
    let test = Test::new().script(
        r#"always(|| wait_until("forever", 600, 1, || false), || { let n = 0; for i in 0..1000 { n += i; } info("cleaned up " + n); });"#,
    );
    let child = test
        .prepare(&["run", "script.rhai"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_journal_event(test.path(), "wait start", |e| {
        matches!(e, Event::WaitStart { .. })
    });
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&output.stdout).contains("cleaned up 499500"));
}

#[test]
fn table_prints_maps_aligned() {
    Test::new()
        .script(
            r#"table([#{id: 1, title: "KeyError"}, #{id: 22, title: "Timeout", level: "error"}]);"#,
        )
        .run()
        .success()
        .stdout_has("id  title     level\n--  --------  -----\n1   KeyError\n22  Timeout   error");
}

#[test]
fn ctrl_c_interrupts_a_request_that_hangs() {
    use ovscript::world::{Credentials, Faults, Scenario, World};
    let faults = Faults {
        delay: Some(Duration::from_secs(30)),
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let creds = world.credentials();
    let test = Test::new()
        .env("OVSCRIPT_AIRFLOW_URL", &world.airflow_url())
        .env("OVSCRIPT_AIRFLOW_USER", &creds.airflow_user)
        .env("OVSCRIPT_AIRFLOW_PASSWORD", &creds.airflow_password)
        .env("OVSCRIPT_AIRFLOW_TIMEOUT", "120")
        .script(r#"step("Ask Airflow", || airflow.running_dags());"#);
    let child = test
        .prepare(&["run", "script.rhai"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_journal_event(test.path(), "step start", |e| {
        matches!(e, Event::StepStart { .. })
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("interrupted (Ctrl-C) while waiting for airflow"));
}

/// `script.rhai` run on a pseudo-terminal, as an operator runs it.
fn on_a_terminal(test: &Test) -> expectrl::session::OsSession {
    use std::process::Stdio;
    let mut command = test.prepare(&["run", "script.rhai"]);
    command
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut session = expectrl::Session::spawn(command).expect("a pseudo-terminal");
    session.set_expect_timeout(Some(Duration::from_secs(20)));
    session
}

#[test]
fn confirm_asks_at_the_terminal_and_one_ctrl_c_interrupts_it() {
    use expectrl::Expect;
    let script = r#"if confirm("Publish?") { info("published"); } else { info("kept"); }"#;
    let test = Test::new().script(script);
    let mut session = on_a_terminal(&test);
    session.expect("? Publish? [y/N] ").unwrap();
    session.send_line("y").unwrap();
    session.expect("published").unwrap();
    session.expect("done in").unwrap();

    let mut session = on_a_terminal(&test);
    session.expect("? Publish? [y/N] ").unwrap();
    session.send_line("").unwrap();
    session.expect("kept").unwrap();

    let mut session = on_a_terminal(&test);
    session.expect("? Publish? [y/N] ").unwrap();
    session.send("\x03").unwrap();
    session.expect("interrupted (Ctrl-C)").unwrap();
    session.expect(expectrl::Eof).unwrap();
    let answers: Vec<bool> = crate::test::journal_events(test.path())
        .into_iter()
        .filter_map(|e| match e {
            Event::Confirm { answer, .. } => Some(answer),
            _ => None,
        })
        .collect();
    assert_eq!(answers, [true, false]);
}

#[test]
fn resume_skips_a_finished_step_with_the_steps_nested_in_it() {
    let test = Test::new().script(
        r#"
            step("Prepare", || {
                step("Check", || info("checking"));
                step("Publish", || info("publishing"));
            });
            step("Deploy", || { if env("FAIL") == "1" { throw "apply failed"; } info("deployed"); });
            step("Verify", || info("verified"));
        "#,
    );
    let first = test_with_env(&test, "1");
    first
        .code(1)
        .stdout_has("==> [1.2] Publish")
        .stdout_has("==> [2] Deploy");
    let run_id = first.run_id();
    let second = test.command(&["run", "--resume", &run_id, "script.rhai"]);
    second
        .success()
        .stdout_has("[1] Prepare: skipped")
        .stdout_has("==> [2] Deploy")
        .stdout_has("deployed")
        .stdout_has("verified")
        .stdout_lacks("checking");
    let starts: Vec<u64> = crate::test::journal_events(test.path())
        .into_iter()
        .filter_map(|e| match e {
            Event::StepStart { ordinal, title, .. } if title == "Deploy" => Some(ordinal),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [4, 4], "Deploy keeps its ordinal");
}

#[test]
fn a_dry_run_cannot_be_resumed_for_real() {
    let test = Test::new().script(r#"step("Plan", || info("planned")); throw "stop";"#);
    let dry = test.command(&["run", "--dry-run", "script.rhai"]);
    dry.code(1)
        .stderr_has("to go on from here: ovscript run --dry-run --resume ");
    let run_id = dry.run_id();
    test.command(&["run", "--resume", &run_id, "script.rhai"])
        .code(2)
        .stderr_has(&format!("run {run_id} was a dry run"));
    test.command(&["run", "--dry-run", "--resume", &run_id, "script.rhai"])
        .code(1)
        .stdout_has("[1] Plan: skipped");
}

#[test]
fn a_second_ctrl_c_still_restores_the_flag_before_exiting() {
    let Some(bin) = crate::test::tools_bin() else {
        return;
    };
    let original = "module \"catalog-airflow\" {\n  running_dags_cleared = false\n}\n";
    let test = Test::new()
        .env("PATH", &crate::test::path_with(&bin))
        .env("OVSCRIPT_INFRA_DIR", "infra")
        .file("infra/main.tf", original)
        // A recipe that goes on after an interrupt (terraform finishing its work): only the
        // second Ctrl-C's last resort stops it.
        .file("infra/justfile", "apply:\n    trap '' INT; touch ignoring-ctrl-c; sleep 20\n")
        .script(
            r#"always(|| tf.with("main.tf", "running_dags_cleared", true, || just("apply")), || info("unpaused"));"#,
        );
    use std::os::unix::process::CommandExt;
    let mut child = test
        .prepare(&["run", "script.rhai"])
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    wait_for_journal_event(test.path(), "recipe start", |e| {
        matches!(e, Event::JustStart { .. })
    });
    // The recipe's shell ignores Ctrl-C only once it ran `trap`: a loaded machine may not be
    // there yet when the recipe's start is journaled.
    let ignoring = test.path().join("infra/ignoring-ctrl-c");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !ignoring.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the recipe did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let tf = test.path().join("infra/main.tf");
    assert!(std::fs::read_to_string(&tf).unwrap().contains("= true"));
    for _ in 0..2 {
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = child.wait().unwrap();
    // The recipe, not signalled here, would hold the output open until it ends.
    let group = format!("-{}", child.id());
    std::process::Command::new("kill")
        .args(["-9", "--", &group])
        .status()
        .unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        stderr.contains("restored module.catalog-airflow.running_dags_cleared = false in main.tf"),
        "{stderr}"
    );
    assert!(
        stderr.contains("NOT DONE: the clean-up of always() at script.rhai:1 did not run"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&tf).unwrap(), original);
    // The exit at once still says in the journal how the run ended.
    let ends: Vec<String> = crate::test::journal_events_lenient(test.path())
        .into_iter()
        .filter_map(|e| match e {
            Event::RunEnd { outcome, error, .. } => Some(format!("{outcome}: {error:?}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        ["interrupted: Some(\"exited at once on a second Ctrl-C\")"],
        "{stderr}"
    );
}

#[test]
fn a_closed_stdout_does_not_stop_the_clean_up() {
    let original = "flag = false\n";
    let test = Test::new()
        .env("OVSCRIPT_INFRA_DIR", "infra")
        .file("infra/main.tf", original)
        .script(
            r#"tf.with("main.tf", "flag", true, || { for i in 0..200 { info("line " + i); } });"#,
        );
    let mut child = test
        .prepare(&["run", "script.rhai"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader went away, as `| head -1` does
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(test.path().join("infra/main.tf")).unwrap(),
        original
    );
}

#[test]
fn a_stdlib_module_that_does_not_compile_stops_the_run_before_any_step() {
    let out = Test::new()
        .file("stdlib/broken.rhai", "fn ok() { 1 }\nlet x = ;\n")
        .script("step(\"one\", || info(\"ran\"));\nimport \"broken\" as b;\n")
        .run();
    out.code(2)
        .stderr_has("stdlib/broken.rhai:2:9")
        .stderr_has("2 | let x = ;")
        .stderr_has("in import of")
        .stdout_lacks("ran");
    assert!(out
        .events()
        .iter()
        .all(|e| !matches!(e, Event::StepStart { .. })));
}

#[test]
fn after_an_interrupted_question_the_next_one_takes_the_next_answer() {
    use expectrl::Expect;
    let test = Test::new().script(
        r#"always(|| confirm("first?"), || { if confirm("second?") { info("second: yes"); } });"#,
    );
    let mut session = on_a_terminal(&test);
    session.expect("? first? [y/N] ").unwrap();
    session.send("\x03").unwrap();
    session.expect("? second? [y/N] ").unwrap();
    session.send_line("y").unwrap();
    session.expect("second: yes").unwrap();
    session.expect(expectrl::Eof).unwrap();
}

/// Rhai's own `oop.rhai`: closures kept in map properties, called as methods. `check` (and so
/// every run) takes it, and the script's output is alone on stdout: the run's status line
/// ("done in ...") is on stderr, so the output can be piped.
#[test]
fn closures_in_map_properties_are_methods_and_stdout_is_the_scripts_alone() {
    let test = Test::new().script(
        r#"let obj1 = #{
    _data: 42,
    get_data: || this._data,
    action: || print("Data=" + this._data),
    update: |x| { this._data = x; }
};
obj1.action();
obj1.update(123);
print(obj1.get_data());
let obj2 = #{ _data: 0 };
obj2.shout = |x| print(x);
obj2.shout(7);
"#,
    );
    let out = test.run();
    let out = out.success();
    assert_eq!(out.stdout, "Data=42\n123\n7\n");
    out.stderr_has("done in ");
    // A method that is no property of any map is still a typo the check names.
    let typo = Test::new().script("let obj = #{ action: || 1 };\nobj.actoin();\n");
    let out = typo.command(&["check", "script.rhai"]);
    out.code(2)
        .stderr_has("script.rhai:2:5: unknown function actoin");
}
