//! Bad input gets a clear answer, and a secret no door: a recipe's environment, the "go on from
//! here" hint, the team's channel, a runbook's page; boolean variables that take only the words
//! they document; files that are no scripts; usage errors, unknown names and resumes that
//! cannot be.

use ovscript::world::{Scenario, World};

use crate::test::{path_with, tools_bin, Test};

const TOKEN: &str = "ghp_d00r5ecret7oken";

#[test]
fn a_recipe_gets_none_of_ovscripts_secrets() {
    let Some(bin) = tools_bin() else {
        return;
    };
    // The recipe writes what it was given to a file (a recipe's own output is not ovscript's
    // to redact): a token must not be there, a setting that is no secret must.
    let justfile = "show:\n    printf 'token=%s password=%s infra=%s\\n' \"${OVSCRIPT_GITHUB_TOKEN:-none}\" \"${OVSCRIPT_AIRFLOW_PASSWORD:-none}\" \"${OVSCRIPT_INFRA_DIR:-none}\" > seen.txt\n";
    let test = Test::new()
        .file("infra/justfile", justfile)
        .script(r#"just("show");"#)
        .env("OVSCRIPT_INFRA_DIR", "infra")
        .env("OVSCRIPT_GITHUB_TOKEN", TOKEN)
        .env("OVSCRIPT_AIRFLOW_PASSWORD", "a1rfl0w-pa55word")
        .env("PATH", &path_with(&bin));
    test.run().success();
    let seen = std::fs::read_to_string(test.path().join("infra/seen.txt")).unwrap();
    assert_eq!(seen, "token=none password=none infra=infra\n");
}

#[test]
fn the_go_on_hint_the_channel_and_a_runbook_page_never_show_a_secret() {
    let world = World::start(Scenario::Calm).expect("world");
    let test = Test::new()
        .world(&world)
        .env("OVSCRIPT_GITHUB_TOKEN", TOKEN);
    // A step done, then a failure: the hint repeats the script's arguments, one a token.
    let test = test.script(&format!(
        r#"
        // {TOKEN}
        step("Tell the team", || slack.post(`deploying with ${{args[0]}}`));
        throw "stop";
        "#
    ));
    let test = test.arg(TOKEN);
    let out = test.run();
    out.code(1).stderr_has("to go on from here").lacks(TOKEN);
    let posts = world.slack_posts();
    assert_eq!(posts, ["deploying with ***"], "{posts:?}");
    // The page of the same script.
    let page = test.command(&["runbook", "script.rhai"]);
    page.success().lacks(TOKEN);
}

#[test]
fn boolean_variables_take_only_the_words_they_document() {
    let with = |name: &str, value: &str| {
        Test::new()
            .script(r#"print("ran");"#)
            .env(name, value)
            .command(&["run", "script.rhai"])
    };
    for (name, value) in [("OVSCRIPT_YES", "flase"), ("OVSCRIPT_DRY_RUN", "maybe")] {
        with(name, value)
            .code(2)
            .stderr_has(&format!("{name}=\"{value}\" is neither yes nor no"))
            .stdout_lacks("ran");
    }
    for value in ["false", "no", "0", "off", "true", "yes"] {
        with("OVSCRIPT_YES", value).success().stdout_has("ran");
    }
}

#[test]
fn a_script_that_is_no_text_file_is_named_and_nothing_hangs() {
    let test = Test::new()
        .file("nul.rhai", "print(1);\nlet x = \"a\0b\";\n")
        .file("bom.rhai", "\u{feff}print(\"bom read\");\n");
    test.command(&["run", "nul.rhai"])
        .code(2)
        .stderr_has("nul.rhai:2: a NUL byte");
    test.command(&["run", "bom.rhai"])
        .success()
        .stdout_has("bom read");
    // A FIFO nobody writes to, and an endless device: refused at once, not read.
    let fifo = test.path().join("fifo.rhai");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    test.command(&["run", "fifo.rhai"])
        .code(2)
        .stderr_has("fifo.rhai is not a regular file");
    test.command(&["check", "/dev/zero"])
        .code(2)
        .stderr_has("/dev/zero is not a regular file");
    let big = " ".repeat(2 << 20);
    let test = test.file("big.rhai", &big);
    let out = test.command(&["run", "big.rhai"]);
    out.code(2).stderr_has("a script is at most 1048576 bytes");
    assert!(
        out.stderr.len() < 1000,
        "{} bytes of message",
        out.stderr.len()
    );
}

#[test]
fn a_usage_error_exits_2_only_while_nothing_ran() {
    Test::new()
        .script(r#"usage_error("--colour takes red or blue");"#)
        .run()
        .code(2)
        .stderr_has("--colour takes red or blue");
    // After a step, the run failed: 1, with the summary of what ran.
    let out = Test::new()
        .script(
            r#"
            step("Note the start", || info("started"));
            usage_error("--colour takes red or blue");
            "#,
        )
        .run();
    out.code(1)
        .stderr_has("--colour takes red or blue")
        .stdout_has("[1] Note the start");
    let ends: Vec<String> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ovscript::journal::Event::RunEnd { outcome, .. } => Some(outcome.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(ends, ["error"]);
}

#[test]
fn doc_of_an_unknown_name_is_an_error_with_a_guess() {
    for argv in [&["doc", "airflwo"][..], &["doc", "--json", "airflwo"]] {
        Test::new()
            .command(argv)
            .code(2)
            .stderr_has("no host function or object named `airflwo`: did you mean `airflow`?");
    }
}

#[test]
fn a_rehearsal_cannot_go_on_from_a_real_run() {
    let test = Test::new().script(
        r#"
        step("Note the start", || info("started"));
        throw "stop";
        "#,
    );
    let real = test.run();
    real.code(1);
    let run_id = real.run_id();
    test.command(&["run", "--rehearse", "--resume", &run_id, "script.rhai"])
        .code(2)
        .stderr_has(&format!(
            "run {run_id} was real: a rehearsal cannot go on from it"
        ));
}

#[test]
fn settings_are_checked_when_loaded_and_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "OVSCRIPT_INFRA_DIR",
            "",
            "[infra] dir is empty (OVSCRIPT_INFRA_DIR=)",
        ),
        ("OVSCRIPT_INFRA_DIR", "  ", "[infra] dir is empty"),
        (
            "OVSCRIPT_AIRFLOW_URL",
            "airflow.example.org/api",
            "[airflow] url is not a URL",
        ),
        (
            "OVSCRIPT_SENTRY_URL",
            "https://sentry .example.org",
            "[sentry] url is not a URL (it holds a space)",
        ),
        (
            "OVSCRIPT_GITHUB_URL",
            "ftp://api.github.com",
            "[github] url is not a URL (its scheme is `ftp`, not http or https)",
        ),
        (
            "OVSCRIPT_SLACK_WEBHOOK",
            "hooks.slack.com/services/T0/B0/s3cretw3bhook",
            "[slack] webhook is not a URL",
        ),
        (
            "OVSCRIPT_INFRA_LOCK_BRANCH",
            "main",
            "is a branch the repository lives on",
        ),
        (
            "OVSCRIPT_INFRA_LOCK_BRANCH",
            "deploy lock",
            "is not a branch name git takes",
        ),
        (
            "OVSCRIPT_INFRA_LOCK_BRANCH",
            "locks/..deploy",
            "is not a branch name git takes",
        ),
        (
            "OVSCRIPT_INFRA_JUST",
            "just \"unclosed",
            "[infra] just = \"just \\\"unclosed\" is not a command line",
        ),
    ];
    for (name, value, message) in cases {
        let out = Test::new()
            .script(r#"print("ran");"#)
            .env(name, value)
            .run();
        out.code(2).stderr_has(message).stdout_lacks("ran");
        // A URL that may hold a secret is not repeated.
        if name.ends_with("WEBHOOK") {
            out.lacks("s3cretw3bhook");
        }
    }
}

#[test]
fn modules_that_import_each_other_are_named_not_a_crash() {
    let test = Test::new()
        .file("stdlib/a.rhai", "import \"b\" as b;\nfn fa() { 1 }\n")
        .file("stdlib/b.rhai", "import \"a\" as a;\nfn fb() { 2 }\n")
        .file("stdlib/itself.rhai", "import \"itself\" as me;\n")
        .file("two.rhai", "import \"a\" as a;\nprint(\"ran\");\n")
        .file("one.rhai", "import \"itself\" as me;\nprint(\"ran\");\n");
    let chain = "modules import each other: stdlib/a.rhai -> stdlib/b.rhai -> stdlib/a.rhai";
    for argv in [&["run", "two.rhai"][..], &["check", "two.rhai"]] {
        test.command(argv)
            .code(2)
            .stderr_has(chain)
            .stdout_lacks("ran");
    }
    test.command(&["run", "one.rhai"])
        .code(2)
        .stderr_has("stdlib/itself.rhai -> stdlib/itself.rhai");
    // The REPL says so and goes on.
    test.clone()
        .stdin("import \"a\" as a;\nprint(\"still here\");\n")
        .command(&["repl"])
        .success()
        .stderr_has("modules import each other")
        .stdout_has("still here");
}

#[test]
fn a_broken_config_line_never_shows_a_secret_however_it_is_written() {
    for file in [
        "airflow.password = \"d0tted-s3cret\"\nnot toml at all\n",
        "airflow = { password = \"d0tted-s3cret\", url = \"http://x\" \n",
        "[airflow]\npassword = \"d0tted-s3cret\" oops\n",
    ] {
        Test::new()
            .file("ovscript.toml", file)
            .script("print(1);")
            .run()
            .code(2)
            .lacks("d0tted-s3cret");
    }
}

#[test]
fn a_weak_secret_is_named_at_load_and_messages_stay_readable() {
    // Airflow's default password, and nothing listens at the URL.
    let out = Test::new()
        .script("airflow.version();")
        .env("OVSCRIPT_AIRFLOW_URL", "http://127.0.0.1:9")
        .env("OVSCRIPT_AIRFLOW_USER", "admin")
        .env("OVSCRIPT_AIRFLOW_PASSWORD", "airflow")
        .run();
    out.code(1)
        .stderr_has(
            "warning: [airflow] password (OVSCRIPT_AIRFLOW_PASSWORD) is shorter than 8 characters",
        )
        .stderr_has("cannot reach airflow at http://127.0.0.1:9");
    // A one-letter token no longer garbles file names; standing alone it is hidden.
    let out = Test::new()
        .script(r#"print("ovscript.toml says p");"#)
        .env("OVSCRIPT_GITHUB_TOKEN", "p")
        .run();
    out.success().stdout_has("ovscript.toml says ***");
}

#[test]
fn tf_changes_no_file_outside_the_infrastructure_checkout() {
    let tf = "module \"m\" {\n  running_dags_cleared = false\n}\n";
    let test = Test::new()
        .file("infra/inside.tf", tf)
        .file("outside.tf", tf)
        .env("OVSCRIPT_INFRA_DIR", "infra");
    std::os::unix::fs::symlink(
        test.path().join("outside.tf"),
        test.path().join("infra/link.tf"),
    )
    .unwrap();
    let absolute = test.path().join("outside.tf").display().to_string();
    for file in ["../outside.tf", absolute.as_str(), "link.tf"] {
        for call in ["set", "with"] {
            let script = match call {
                "set" => format!(r#"tf.set("{file}", "running_dags_cleared", true);"#),
                _ => format!(
                    r#"tf.with("{file}", "running_dags_cleared", true, || print("inside"));"#
                ),
            };
            test.clone()
                .script(&script)
                .run()
                .code(1)
                .stderr_has("is outside the infrastructure checkout")
                .stdout_lacks("inside");
        }
    }
    assert_eq!(
        std::fs::read_to_string(test.path().join("outside.tf")).unwrap(),
        tf
    );
    // Inside, as ever.
    test.clone()
        .script(r#"tf.with("inside.tf", "running_dags_cleared", true, || print("inside"));"#)
        .run()
        .success()
        .stdout_has("inside");
}

/// A server on 127.0.0.1 answering every request with `status` and `body`, until the test ends.
fn failing_server(status: u16, body: String) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Oops\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("127.0.0.1:{port}")
}

#[test]
fn an_error_answer_shows_no_secret_not_even_a_cut_one() {
    // A server that echoes the token near where an error body is cut (200 characters).
    let token = "ghp_3choed7oken5ecretvalue";
    let host = failing_server(500, format!("{}{token} trailing", "x".repeat(190)));
    Test::new()
        .script(r#"github.latest_release("catalog-");"#)
        .env("OVSCRIPT_GITHUB_URL", &format!("http://{host}"))
        .env("OVSCRIPT_GITHUB_REPO", "WordPress/openverse")
        .env("OVSCRIPT_GITHUB_TOKEN", token)
        .run()
        .code(1)
        .stderr_has("answered 500")
        .lacks("ghp_3choed")
        .lacks("5ecretvalue");
    // A registry URL with credentials in it: a failing registry's message does not repeat them.
    let host = failing_server(503, String::new());
    Test::new()
        .script(r#"registry.has_tag("ghcr.io/wordpress/openverse-catalog", "rel-1");"#)
        .env(
            "OVSCRIPT_REGISTRY_URL",
            &format!("http://puller:r3gistry-pa55word@{host}"),
        )
        .run()
        .code(1)
        .stderr_has("answered 503")
        .lacks("r3gistry-pa55word");
}

#[test]
fn literals_of_every_kind_are_checked_and_types_are_named_as_scripts_know_them() {
    for (call, kind) in [
        ("airflow.pause(());", "a unit `()`"),
        ("airflow.pause(#{});", "a map"),
        ("airflow.pause(#{dag: \"x\"});", "a map"),
        ("airflow.pause([]);", "an array"),
        ("airflow.pause(1.5);", "a float"),
    ] {
        Test::new()
            .script(&format!("step(\"First\", || info(\"ran\"));\n{call}\n"))
            .run()
            .code(2)
            .stderr_has(&format!("argument 1 is {kind}, which it does not take"))
            .stdout_lacks("ran");
    }
    // An operator with the wrong types: Rhai's names for Rust types do not reach the user.
    let out = Test::new().script("let x = \"a\" - 1;").run();
    out.code(1)
        .stderr_has("no function `-` takes (string, int)")
        .lacks("ImmutableString")
        .lacks("i64");
}

#[test]
fn a_limit_met_while_parsing_names_its_key() {
    let test = Test::new().file(
        "ovscript.toml",
        "[limits]\nmax_string_size = 10\nmax_array_size = 2\n",
    );
    test.clone()
        .script(r#"let s = "0123456789abcdef";"#)
        .run()
        .code(2)
        .stderr_has("raise [limits] max_string_size");
    test.clone()
        .script("let a = [1, 2, 3, 4];")
        .run()
        .code(2)
        .stderr_has("raise [limits] max_array_size");
}

#[test]
fn the_repl_guesses_a_misspelt_name_as_run_and_check_do() {
    Test::new()
        .stdin("let x = 1;\nprnt(x);\nairflow.pase(\"x\");\nprint(\"still here\");\n")
        .command(&["repl"])
        .success()
        .stderr_has("no function `prnt` takes (int)")
        .stderr_has("did you mean `print`?")
        .stderr_has("did you mean `pause`?")
        .stdout_has("still here");
}

#[test]
fn a_damaged_journal_is_called_damaged_not_a_changed_script() {
    let test = Test::new().script("step(\"One\", || info(\"1\"));\nthrow \"stop\";\n");
    let first = test.run();
    first.code(1);
    let run_id = first.run_id();
    let journal = test
        .path()
        .join(format!(".ovscript/journal/{run_id}.jsonl"));
    let full = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = full.lines().collect();
    let resume = |text: String| {
        std::fs::write(&journal, text).unwrap();
        test.command(&["run", "--resume", &run_id, "script.rhai"])
    };
    // Its first line gone, or a line in the middle broken: damaged, and no --resume-changed.
    for (damaged, what) in [
        (lines[1..].join("\n") + "\n", "it has no run_start line"),
        (
            format!(
                "{}\n{{\"event\": \"step_en\n{}\n",
                lines[0],
                lines[1..].join("\n")
            ),
            "line 2 is not a journal line",
        ),
    ] {
        resume(damaged)
            .code(2)
            .stderr_has(&format!("the journal of run {run_id} is damaged ({what}"))
            .lacks("--resume-changed");
    }
    // A torn last line (a crash mid-write) is no damage: the run is gone on with.
    let torn = format!(
        "{}\n{{\"event\":\"run_e",
        lines[..lines.len() - 1].join("\n")
    );
    resume(torn).code(1).stdout_has("[1] One: skipped");
}

#[test]
fn check_of_a_justfile_reads_imported_files_and_modules_and_skips_a_namesake_variable() {
    let Some(bin) = tools_bin() else {
        return;
    };
    let out = Test::new()
        .file(
            "justfile",
            "import 'extra.just'\nmod tools\ndeploy := \"x\"\n\ndeploy:\n    #!/usr/bin/env ovscript\n    prnt(\"main\");\n",
        )
        .file(
            "extra.just",
            "imported:\n    #!/usr/bin/env ovscript\n    airflow.pase(\"x\");\n",
        )
        .file(
            "tools.just",
            "inmodule:\n    #!/usr/bin/env ovscript\n    unknwn_fn();\n",
        )
        .env("PATH", &path_with(&bin))
        .command(&["check", "justfile"]);
    out.code(2)
        .stderr_has("justfile:7:5 (recipe deploy): unknown function prnt")
        .stderr_has("extra.just:3:13 (recipe imported): unknown function pase")
        .stderr_has("tools.just:3:5 (recipe tools::inmodule): unknown function unknwn_fn")
        .stderr_has("3 problem(s) found");
}

#[test]
fn the_repl_keeps_no_secret_in_its_history_or_journal_however_it_is_typed() {
    let secret = "s3cret token/with+signs";
    let encoded = "s3cret%20token%2Fwith%2Bsigns";
    let test = Test::new();
    let state = test.path().join("state").display().to_string();
    let test = test
        .env("OVSCRIPT_GITHUB_TOKEN", secret)
        .env("XDG_STATE_HOME", &state)
        .stdin(&format!(
            "let a = \"{secret}\";\nlet b = \"https://x.test/?t={encoded}\";\nprint(\"plain line\");\n"
        ));
    let out = test.command(&["repl"]);
    out.success().lacks("s3cret");
    let history =
        std::fs::read_to_string(test.path().join("state/ovscript/history")).unwrap_or_default();
    assert!(!history.contains("s3cret"), "{history}");
    assert!(history.contains("plain line"), "{history}");
    let journal = crate::test::journal_text(test.path());
    assert!(!journal.contains("s3cret"), "{journal}");
}

#[test]
fn a_secret_with_quotes_and_backslashes_is_hidden_in_every_channel() {
    let secret = r#"pa"ss\w0rd-long"#;
    let test = Test::new().env("OVSCRIPT_GITHUB_TOKEN", secret).script(
        r#"
            let token = env("OVSCRIPT_GITHUB_TOKEN");
            step("Show it", || { print(#{ token: token }); info(`${[token]}`); });
            throw `failed with ${#{ t: token }}`;
            "#,
    );
    let out = test.run();
    out.code(1);
    let run_id = out.run_id();
    for shown in [
        out.stdout.clone(),
        out.stderr.clone(),
        crate::test::journal_text(test.path()),
        test.command(&["log"]).stdout,
        test.command(&["log", &run_id]).stdout,
        test.command(&["log", "--json"]).stdout,
        test.command(&["log", &run_id, "--json"]).stdout,
    ] {
        assert!(!shown.contains("ss\\"), "{shown}");
        assert!(!shown.contains("w0rd-long"), "{shown}");
    }
}

#[test]
fn resume_sees_an_edit_of_a_module_the_script_imports() {
    let test = Test::new()
        .file("stdlib/steps.rhai", "fn one() { info(\"one\") }\n")
        .script("import \"steps\" as steps;\nstep(\"One\", || steps::one());\nthrow \"stop\";\n");
    let first = test.run();
    first.code(1);
    let run_id = first.run_id();
    // The runbook is the same; the module where its steps live is not.
    std::fs::write(
        test.path().join("stdlib/steps.rhai"),
        "fn one() { info(\"one, edited\") }\n",
    )
    .unwrap();
    test.command(&["run", "--resume", &run_id, "script.rhai"])
        .code(2)
        .stderr_has("script.rhai, or a module it imports, changed since run");
    // Unedited, it goes on.
    std::fs::write(
        test.path().join("stdlib/steps.rhai"),
        "fn one() { info(\"one\") }\n",
    )
    .unwrap();
    test.command(&["run", "--resume", &run_id, "script.rhai"])
        .code(1)
        .stdout_has("[1] One: skipped");
}

#[test]
fn a_url_with_credentials_is_never_shown_with_them_however_malformed() {
    for url in [
        "user:s3cretpw@127.0.0.1:9/x",
        "http://user:s3cretpw@127.0.0.1:9/x y",
        "http://user:s3cretpw@127.0.0.1:9/x",
    ] {
        // From the environment, as a script would take it (its own source lines are shown as
        // written).
        let out = Test::new()
            .script(r#"print(http.get(env("CHECK_URL")));"#)
            .env("CHECK_URL", url)
            .run();
        out.code(1).lacks("s3cretpw");
        assert!(!crate::test::journal_text(&out.dir).contains("s3cretpw"));
    }
}
