//! Runbooks written straight into justfile recipes, run by the real `just` with ovscript as the
//! interpreter: shebangs, `[script("ovscript")]`, parameters, errors at the justfile's lines,
//! the run options' variables, resume, `check justfile`, imports, and the project's `just status`.

use std::path::Path;

use ovscript::journal::Event;
use ovscript::world::{Credentials, Faults, Scenario, World};

use crate::test::{tools_bin, Output, Test, BIN};

/// PATH with the built ovscript and the real just first.
fn path() -> Option<String> {
    let tools = tools_bin()?;
    let bin = Path::new(BIN).parent().unwrap();
    Some(format!(
        "{}:{}:{}",
        bin.display(),
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    ))
}

/// A working directory holding `justfile`, ready to run `just` in.
fn with_justfile(justfile: &str) -> Option<Test> {
    Some(Test::new().file("justfile", justfile).env("PATH", &path()?))
}

/// `just ARGS...` in the test's directory, with its environment.
fn just(test: &Test, args: &[&str]) -> Output {
    test.program("just", args)
}

const RECIPES: &str = r#"set positional-arguments

# Parameters by interpolation and as args.
hello name="world" *rest:
    #!/usr/bin/env -S ovscript run
    step("greet", || info(`hello {{name}}`));
    print(`args: ${args}`);

plain *rest:
    #!/usr/bin/env ovscript
    print(`plain: ${args}`);

[script("ovscript")]
scripted *args:
    print(`scripted: ${args}`);

[script("ovscript")]
[extension(".rhai")]
suffixed *args:
    print(`suffixed: ${args}`);

failing:
    #!/usr/bin/env ovscript
    step("first", || 1);
    step("second", || throw "the second step failed");

shell:
    echo "not ovscript: {{ "x" }}"
"#;

#[test]
fn shebang_and_script_recipes_receive_their_arguments() {
    let Some(test) = with_justfile(RECIPES) else {
        return;
    };
    just(&test, &["hello", "there", "--watch=5m"])
        .success()
        .stdout_has("hello there")
        .stdout_has(r#"args: ["there", "--watch=5m"]"#);
    just(&test, &["plain", "a", "--b=c"])
        .success()
        .stdout_has(r#"plain: ["a", "--b=c"]"#);
    just(&test, &["scripted", "--dry", "x y"])
        .success()
        .stdout_has(r#"scripted: ["--dry", "x y"]"#);
    just(&test, &["suffixed", "1"])
        .success()
        .stdout_has(r#"suffixed: ["1"]"#);
}

#[test]
fn an_error_points_at_the_justfile_line_and_names_the_recipe() {
    let Some(test) = with_justfile(RECIPES) else {
        return;
    };
    let out = just(&test, &["failing"]);
    out.code(1)
        .stderr_has("error: justfile:25:23 (recipe failing): the second step failed")
        .stderr_has(r#"25 |     step("second", || throw "the second step failed");"#)
        // The way to go on, in the form it was started in.
        .stderr_has("to go on from here: OVSCRIPT_RESUME=")
        .stderr_has(" just failing");
    let journal = out.events();
    let start = journal
        .iter()
        .find(|e| matches!(e, Event::RunStart { .. }))
        .unwrap();
    let Event::RunStart {
        script, runbook, ..
    } = start
    else {
        unreachable!()
    };
    assert_eq!(script, "justfile");
    assert!(runbook.ends_with("/justfile#failing"), "{start:?}");
}

#[test]
fn the_run_options_have_variables_and_resume_finds_an_embedded_runbook() {
    let Some(test) = with_justfile(
        r#"
deploy:
    #!/usr/bin/env ovscript
    step("write", || tf.set("x.tf", "flag", true));
    step("then fail", || if env("FAIL") == "1" { throw "failed on purpose" });
"#,
    ) else {
        return;
    };
    let test = test
        .file("infra/x.tf", "flag = false\n")
        .env("OVSCRIPT_INFRA_DIR", "infra");
    let dry = test.clone().env("OVSCRIPT_DRY_RUN", "1");
    just(&dry, &["deploy"])
        .success()
        .stdout_has("would: set flag = true in x.tf");
    assert_eq!(
        std::fs::read_to_string(test.path().join("infra/x.tf")).unwrap(),
        "flag = false\n"
    );
    let failing = test.clone().env("FAIL", "1");
    let first = just(&failing, &["deploy"]);
    first.code(1).stderr_has("failed on purpose");
    let run_id = first.run_id();
    let resumed = test.clone().env("OVSCRIPT_RESUME", &run_id);
    just(&resumed, &["deploy"])
        .success()
        .stdout_has("write: skipped, finished in run")
        .stdout_has("[2] then fail: done");
}

#[test]
fn check_finds_a_typo_in_a_recipe_at_its_justfile_line() {
    let Some(test) = with_justfile(
        r#"
good:
    #!/usr/bin/env ovscript
    info("fine");

bad name:
    #!/usr/bin/env -S ovscript run
    info(`{{name}}`);
    airflow.pausee("x");

[script("ovscript")]
alsobad:
    stepp("x", || 1);

python:
    #!/usr/bin/env python3
    this is not rhai(

shell:
    echo "{{ "neither" }}"
"#,
    ) else {
        return;
    };
    test.command(&["check", "justfile"])
        .code(2)
        .stderr_has("justfile:9:13 (recipe bad): unknown function pausee")
        .stderr_has("justfile:13:5 (recipe alsobad): unknown function stepp")
        .stderr_has("2 problem(s) found");
    // A folder that holds a justfile is checked the same way.
    test.command(&["check", "."])
        .code(2)
        .stderr_has("(recipe bad)");
}

#[test]
fn a_recipe_imports_the_stdlib_next_to_its_justfile() {
    let Some(test) = with_justfile(
        r#"set positional-arguments

[script("ovscript")]
opts *args:
    import "deploy" as deploy;
    print(deploy::joined(["a", "b"]));
    print(options(args, #{ "watch": "" }, ["watch"]));
"#,
    ) else {
        return;
    };
    let stdlib = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/deploy.rhai");
    let test = test.file(
        "stdlib/deploy.rhai",
        &std::fs::read_to_string(stdlib).unwrap(),
    );
    just(&test, &["opts", "--watch=5m"])
        .success()
        .stdout_has("a, b")
        .stdout_has(r#"#{"watch": "5m"}"#);
    just(&test, &["opts", "--watch=soon"])
        .code(2)
        .stderr_has("--watch=soon is not a duration");
}

#[test]
fn a_word_that_is_neither_a_command_nor_a_file_lists_the_commands() {
    Test::new()
        .command(&["deploy"])
        .code(2)
        .stderr_has("`deploy` is neither a command nor a script file")
        .stderr_has("the commands are run, check, doc, repl");
    Test::new()
        .script("#!/usr/bin/env ovscript\nprint(`args ${args}`);\nthrow \"line three\";\n")
        .command(&["script.rhai", "a", "--b"])
        .code(1)
        .stdout_has(r#"args ["a", "--b"]"#)
        .stderr_has("script.rhai:3:1: line three");
}

#[test]
fn just_status_shows_the_world_before_a_deploy() {
    let Some(path) = path() else {
        return;
    };
    let world = World::start_with(
        Scenario::SensorWaiting,
        Faults::default(),
        Credentials::default(),
    )
    .expect("world");
    let repo = env!("CARGO_MANIFEST_DIR");
    let test = Test::new().env("PATH", &path).world(&world);
    let out = just(
        &test,
        &[
            "--justfile",
            &format!("{repo}/justfile"),
            "--working-directory",
            repo,
            "status",
        ],
    );
    out.success()
        .stdout_has("Running DAG runs")
        .stdout_has("image_data_refresh  scheduled__")
        .stdout_has(
            "data_refresh.ingest_upstream.wait_for_ingest_upstream  HttpSensor  up_for_reschedule",
        )
        .stdout_has(
            "catalog           catalog-2024.05.02.10.00.00           catalog-2024.04.01.12.00.00",
        )
        .stdout_has("Sentry errors of the last hour\n  none")
        .lacks("NOT checked");
    assert!(world.changes().is_empty(), "{:?}", world.changes());
}

#[test]
fn a_recipe_run_elsewhere_still_names_its_justfile_line() {
    // `set working-directory` and `[no-cd]`: the recipe runs in another folder than its
    // justfile's, and its errors still name the justfile and the recipe, not just's temp file.
    let justfile = "set working-directory := \"sub\"\n\nmoved:\n    #!/usr/bin/env ovscript\n    throw \"moved failed\";\n\n[no-cd]\nstay:\n    #!/usr/bin/env ovscript\n    throw \"stay failed\";\n";
    let Some(test) = with_justfile(justfile) else {
        return;
    };
    let test = test.file("sub/.keep", "");
    just(&test, &["moved"])
        .code(1)
        .stderr_has("justfile:5:5 (recipe moved): moved failed")
        .lacks("/just-");
    let below = test.path().join("sub");
    let out = test.program_in(&below, "just", &["stay"]);
    out.code(1)
        .stderr_has("justfile:10:5 (recipe stay): stay failed")
        .lacks("/just-");
}
