//! `just(...)`, `just_output(...)` and `git.*` as an operator meets them: the real `just` (from
//! PyPI, installed by tools/install-tools.sh) on a justfile written here, and the real git on a
//! repository with a bare "origin" made here.

use ovscript::journal::Event;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::test::{path_with, tools_bin, Test};

/// Recipes that show what they received; `set positional-arguments` hands them to `$@` as they
/// arrived, with no interpolation into the recipe's shell text.
const JUSTFILE: &str = r#"set positional-arguments

# Writes each argument on its own line.
record *args:
    printf '%s\n' "$@" > recorded.txt

fail code:
    exit "$1"

two first second:
    printf '%s %s\n' "$1" "$2" > two.txt

show:
    @echo out-line; echo err-line >&2; exit 4

ask:
    @read -r line; echo "got: $line" > answer.txt

slow:
    @touch started.txt; sleep 30; touch finished.txt

confirm:
    @[ -t 0 ] && [ -t 1 ] && echo "stdin and stdout are a terminal"; printf 'Apply? '; read -r a; echo "answer=$a"
"#;

/// A run whose infrastructure checkout `infra/` holds JUSTFILE, with the real `just` on PATH.
fn with_justfile(script: &str) -> Option<Test> {
    let bin = tools_bin()?;
    Some(
        Test::new()
            .file("infra/justfile", JUSTFILE)
            .script(script)
            .env("OVSCRIPT_INFRA_DIR", "infra")
            .env("PATH", &path_with(&bin)),
    )
}

/// A recipe's end in the journal, with its exit code.
struct JustEnd<'a> {
    recipe: &'a str,
    args: &'a [String],
    code: Option<i64>,
    captured: bool,
}

/// The journal's `Event::Just` lines: one when a recipe ends, with its exit code.
fn just_events(journal: &[Event]) -> Vec<JustEnd<'_>> {
    journal
        .iter()
        .filter_map(|e| match e {
            Event::Just {
                recipe,
                args,
                code,
                captured,
                ..
            } => Some(JustEnd {
                recipe,
                args,
                code: *code,
                captured: *captured,
            }),
            _ => None,
        })
        .collect()
}

/// The journal's `Event::JustStart` lines: one when a recipe starts, with its arguments.
fn just_starts(journal: &[Event]) -> Vec<&[String]> {
    journal
        .iter()
        .filter_map(|e| match e {
            Event::JustStart { args, .. } => Some(args.as_slice()),
            _ => None,
        })
        .collect()
}

#[test]
fn recipes_receive_exactly_their_arguments() {
    let Some(test) = with_justfile(
        r#"just("record", "two words", "$(touch pwned)", "it's; echo hacked > hacked.txt", "--yes", "x=y", "");"#,
    ) else {
        return;
    };
    let out = test.run();
    out.success();
    let recorded = std::fs::read_to_string(out.dir.join("infra/recorded.txt")).unwrap();
    assert_eq!(
        recorded,
        "two words\n$(touch pwned)\nit's; echo hacked > hacked.txt\n--yes\nx=y\n\n"
    );
    for planted in ["infra/pwned", "pwned", "infra/hacked.txt", "hacked.txt"] {
        assert!(!out.dir.join(planted).exists(), "{planted} was created");
    }
    let journal = out.events();
    let events = just_events(&journal);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].recipe, "record");
    assert_eq!(events[0].args[1], "$(touch pwned)");
    assert_eq!(events[0].code, Some(0));
    // Its `duration_ms` is a u64 without a default: the line read as an event, so it has one.
    let starts = just_starts(&journal);
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0], events[0].args);
}

#[test]
fn six_arguments_and_the_array_form_arrive_alike() {
    let Some(test) = with_justfile(
        r#"
        just("record", "1", "2", "3", "4", "5", "6");
        let first = just_output("record", []);
        just("record", ["a", "b c"]);
        "#,
    ) else {
        return;
    };
    let out = test.run();
    out.success();
    let recorded = std::fs::read_to_string(out.dir.join("infra/recorded.txt")).unwrap();
    assert_eq!(recorded, "a\nb c\n");
    let journal = out.events();
    let counts: Vec<usize> = just_events(&journal).iter().map(|e| e.args.len()).collect();
    assert_eq!(counts, [6, 0, 2]);

    let Some(test) = with_justfile(r#"just("record", ["a", 3]);"#) else {
        return;
    };
    test.run()
        .code(1)
        .stderr_has("argument 2 (int) is not a string");
}

#[test]
fn a_failing_recipe_reports_its_exit_code_and_stops_the_script() {
    let Some(test) = with_justfile(
        r#"
        just("fail", "3");
        print("after the failure");
        "#,
    ) else {
        return;
    };
    let out = test.run();
    out.code(1)
        .stderr_has("just fail 3 failed with exit code 3")
        .stdout_lacks("after the failure");
    let journal = out.events();
    assert_eq!(just_events(&journal)[0].code, Some(3));
}

#[test]
fn an_unknown_recipe_or_a_wrong_count_is_refused_before_anything_runs() {
    let Some(test) = with_justfile(r#"just("recrod", "prod");"#) else {
        return;
    };
    test.run()
        .code(1)
        .stderr_has("just recrod prod: the justfile has no recipe `recrod`; its recipes are: ask, confirm, fail, record, show, slow, two");

    // just itself would run `two a b` and then take `record` for a further recipe to run.
    let Some(test) = with_justfile(r#"just("two", "a", "b", "record");"#) else {
        return;
    };
    let out = test.run();
    out.code(1)
        .stderr_has("recipe `two` takes 2 arguments (first second), given 3 (a b record)");
    assert!(!out.dir.join("infra/two.txt").exists());
    assert!(!out.dir.join("infra/recorded.txt").exists());
    assert!(just_starts(&out.events()).is_empty());

    let Some(test) = with_justfile(r#"just_output("two", "only one");"#) else {
        return;
    };
    test.run()
        .code(1)
        .stderr_has("takes 2 arguments (first second), given 1 ('only one')");
}

#[test]
fn just_output_captures_without_throwing() {
    let Some(test) = with_justfile(
        r#"
        let r = just_output("show");
        print(`code=${r.code}`);
        print(`stdout=${r.stdout}`);
        print(`stderr has err-line: ${r.stderr.contains("err-line")}`);
        "#,
    ) else {
        return;
    };
    let out = test.run();
    out.success()
        .stdout_has("code=4\n")
        .stdout_has("stdout=out-line\n\n")
        .stdout_has("stderr has err-line: true");
    assert!(!out.stdout.lines().any(|l| l == "out-line"));
    assert!(!out.stderr.contains("err-line"));
    let journal = out.events();
    let events = just_events(&journal);
    assert_eq!(events[0].code, Some(4));
    assert!(events[0].captured);
}

#[test]
fn without_just_on_path_the_error_says_how_to_install_it() {
    for call in [r#"just("record")"#, r#"just_output("record")"#] {
        Test::new()
            .file("infra/justfile", JUSTFILE)
            .script(&format!("{call};"))
            .env("OVSCRIPT_INFRA_DIR", "infra")
            .env("PATH", "/nonexistent")
            .run()
            .code(1)
            .stderr_has(
                "`just` is not installed or not on PATH: install it with `pip install rust-just`",
            )
            .stderr_has("tools/install-tools.sh");
    }
}

#[test]
fn a_dry_run_says_the_recipe_and_runs_nothing() {
    let Some(test) = with_justfile(
        r#"
        just("record", "prod", "two words");
        let r = just_output("show");
        print(`code=${r.code} stdout=[${r.stdout}]`);
        "#,
    ) else {
        return;
    };
    let out = test.flag("--dry-run").run();
    out.success()
        .stdout_has("would: just record prod 'two words'")
        .stdout_has("would: just show")
        .stdout_has("code=0 stdout=[]");
    assert!(!out.dir.join("infra/recorded.txt").exists());
    assert!(just_starts(&out.events()).is_empty());

    // The recipe is still checked, so a dry run finds the typo.
    let Some(test) = with_justfile(r#"just("aply", "prod");"#) else {
        return;
    };
    test.flag("--dry-run")
        .run()
        .code(1)
        .stderr_has("no recipe `aply`")
        .stdout_lacks("would:");
}

#[test]
fn the_recipe_reads_the_operators_input() {
    let Some(test) = with_justfile(r#"just("ask");"#) else {
        return;
    };
    let out = test.stdin("hello there\n").run();
    out.success();
    assert_eq!(
        std::fs::read_to_string(out.dir.join("infra/answer.txt")).unwrap(),
        "got: hello there\n"
    );
}

/// What `just apply` needs for terraform's question: the operator's terminal, not a pipe.
#[cfg(unix)]
#[test]
fn a_recipe_asks_its_question_on_the_terminal() {
    use expectrl::{Expect, Session};
    let Some(test) = with_justfile(
        r#"
        just("confirm");
        print("after the recipe");
        "#,
    ) else {
        return;
    };
    use std::process::Stdio;
    let mut command = test.prepare(&["run", "script.rhai"]);
    // Inherited streams are the pseudo-terminal that the session makes.
    command
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut session = Session::spawn(command).unwrap();
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session.expect("stdin and stdout are a terminal").unwrap();
    session.expect("Apply? ").unwrap();
    session.send_line("yes").unwrap();
    session.expect("answer=yes").unwrap();
    session.expect("after the recipe").unwrap();
    session.expect("done in").unwrap();
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_recipe_and_the_script() {
    use std::os::unix::process::CommandExt;
    let Some(test) = with_justfile(
        r#"
        just("slow");
        print("after the recipe");
        "#,
    ) else {
        return;
    };
    // Its own process group, signalled whole: what a terminal does on Ctrl-C.
    let mut child = test
        .prepare(&["run", "script.rhai"])
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let started_file = test.path().join("infra/started.txt");
    wait_for(|| started_file.exists(), "the recipe to start");
    let interrupted = Instant::now();
    let group = format!("-{}", child.id());
    Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(interrupted.elapsed() < Duration::from_secs(10));
    assert!(!test.path().join("infra/finished.txt").exists());
    let journal = crate::test::journal_events(test.path());
    assert_eq!(just_starts(&journal).len(), 1);
    assert_eq!(just_events(&journal).len(), 1);
    assert!(journal
        .iter()
        .any(|e| matches!(e, Event::RunEnd { outcome, .. } if outcome == "interrupted")));
}

fn wait_for(ready: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- git ----

/// Git as the tests run it: no user or system configuration, a fixed identity.
const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_AUTHOR_NAME", "Deployer"),
    ("GIT_AUTHOR_EMAIL", "deployer@example.org"),
    ("GIT_COMMITTER_NAME", "Deployer"),
    ("GIT_COMMITTER_EMAIL", "deployer@example.org"),
];

const TF_FILE: &str = "environments/prod/catalog-airflow.tf";

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(GIT_ENV.iter().copied())
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `infra/` (branch main, one commit, `origin` = the bare `origin.git/`) beside the script.
fn with_git_repo(script: &str) -> Test {
    let mut test = Test::new()
        .file(
            &format!("infra/{TF_FILE}"),
            "module \"catalog-airflow\" {\n    docker_image_tag = \"rel-1\"\n    running_dags_cleared = false\n}\n",
        )
        .script(script)
        .env("OVSCRIPT_INFRA_DIR", "infra");
    for (name, value) in GIT_ENV {
        test = test.env(name, value);
    }
    let infra = test.path().join("infra");
    git(&infra, &["init", "--quiet", "-b", "main"]);
    git(&infra, &["add", "."]);
    git(&infra, &["commit", "--quiet", "-m", "Initial"]);
    let origin = test.path().join("origin.git");
    git(
        test.path(),
        &["init", "--quiet", "--bare", origin.to_str().unwrap()],
    );
    git(
        &infra,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    test
}

/// A bump in the .tf file and an untracked note that must not be committed.
fn change_the_checkout(infra: &Path) {
    std::fs::write(
        infra.join(TF_FILE),
        "module \"catalog-airflow\" {\n    docker_image_tag = \"rel-2\"\n    running_dags_cleared = false\n}\n",
    )
    .unwrap();
    std::fs::write(infra.join("notes.txt"), "scratch\n").unwrap();
}

#[test]
fn a_branch_is_created_committed_and_pushed_to_origin() {
    let test = with_git_repo(
        r#"
        print("before: " + git.branch());
        git.create_branch("deploy/catalog");
        print("changed: " + git.changed_files());
        print("diff shows the bump: " + git.diff().contains("+    docker_image_tag = \"rel-2\""));
        git.commit("Deploy catalog", ["environments/prod/catalog-airflow.tf"]);
        git.push("deploy/catalog");
        print("after: " + git.branch());
        print("head: " + git.head());
        print("status: " + git.status());
        "#,
    );
    let infra = test.path().join("infra");
    change_the_checkout(&infra);
    let out = test.run();
    out.success()
        .stdout_has("before: main")
        .stdout_has(r#"changed: ["environments/prod/catalog-airflow.tf", "notes.txt"]"#)
        .stdout_has("diff shows the bump: true")
        .stdout_has("after: deploy/catalog")
        .stdout_has("status: ?? notes.txt");

    let head = git(&infra, &["rev-parse", "HEAD"]);
    out.stdout_has(&format!("head: {head}"));
    let origin = test.path().join("origin.git");
    assert_eq!(
        git(&origin, &["rev-parse", "refs/heads/deploy/catalog"]),
        head
    );
    assert_eq!(
        git(&origin, &["log", "-1", "--format=%s", "deploy/catalog"]),
        "Deploy catalog"
    );
    assert_eq!(
        git(
            &origin,
            &["show", "--name-only", "--format=", "deploy/catalog"]
        ),
        TF_FILE
    );
    assert_eq!(
        git(
            &infra,
            &["rev-parse", "--abbrev-ref", "deploy/catalog@{upstream}"]
        ),
        "origin/deploy/catalog"
    );
    let journal = out.events();
    let commands: Vec<&str> = journal
        .iter()
        .filter_map(|e| match e {
            Event::Git { args, .. } => Some(args[0].as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(commands, ["checkout", "add", "commit", "push"]);
}

#[test]
fn changed_files_are_relative_to_a_checkout_inside_the_repository() {
    let test = with_git_repo(r#"print("changed: " + git.changed_files());"#)
        .env("OVSCRIPT_INFRA_DIR", "infra/environments");
    change_the_checkout(&test.path().join("infra"));
    test.run()
        .success()
        .stdout_has(r#"changed: ["prod/catalog-airflow.tf"]"#);
}

#[test]
fn a_dry_run_changes_nothing_in_git() {
    let test = with_git_repo(
        r#"
        git.create_branch("deploy/catalog");
        git.commit("Deploy catalog", git.changed_files());
        git.push("deploy/catalog");
        "#,
    );
    let infra = test.path().join("infra");
    change_the_checkout(&infra);
    let head = git(&infra, &["rev-parse", "HEAD"]);
    let out = test.flag("--dry-run").run();
    out.success()
        .stdout_has("would: git checkout -b deploy/catalog")
        .stdout_has("would: git commit -m 'Deploy catalog' -- environments/prod/catalog-airflow.tf notes.txt")
        .stdout_has("would: git push -u origin deploy/catalog");
    assert_eq!(git(&infra, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&infra, &["branch", "--show-current"]), "main");
    assert_eq!(git(&infra, &["diff", "--cached", "--name-only"]), "");
    let origin = out.dir.join("origin.git");
    assert_eq!(git(&origin, &["for-each-ref"]), "");
    assert!(!out.events().iter().any(|e| matches!(e, Event::Git { .. })));
}

#[test]
fn git_errors_say_what_failed_and_what_to_do() {
    with_git_repo(r#"git.commit("Deploy", ["environments/prod/catalog-airflow.tf"]);"#)
        .run()
        .code(1)
        .stderr_has("nothing to commit: environments/prod/catalog-airflow.tf has no changes");
    with_git_repo(r#"git.commit("Deploy", []);"#)
        .run()
        .code(1)
        .stderr_has("git.commit needs the files to commit");
    with_git_repo(r#"git.create_branch("main");"#)
        .run()
        .code(1)
        .stderr_has("`git checkout -b main` failed")
        .stderr_has("already exists")
        .stderr_has("pick another branch name");
    with_git_repo(r#"git.create_branch("--force");"#)
        .run()
        .code(1)
        .stderr_has("`--force` is not a valid git branch name");

    let test = with_git_repo(r#"git.push("main");"#);
    git(&test.path().join("infra"), &["remote", "remove", "origin"]);
    test.run()
        .code(1)
        .stderr_has("`git push -u origin main` failed")
        .stderr_has("'origin' does not appear to be a git repository")
        .stderr_has("check that the remote `origin` exists");

    let test = Test::new()
        .file("plain/readme.txt", "not a repository\n")
        .script("print(git.branch());")
        .env("OVSCRIPT_INFRA_DIR", "plain");
    // Git must not find a repository above the scratch directory either.
    let ceiling = test.path().display().to_string();
    test.env("GIT_CEILING_DIRECTORIES", &ceiling)
        .run()
        .code(1)
        .stderr_has("not a git repository")
        .stderr_has("must be a clone of the infrastructure repository");
}

/// The infrastructure repository's `./ov` wrapper: `./ov just ARGS` runs just in its toolbox;
/// here it notes that it was used, then runs the real just.
const OV_WRAPPER: &str = r#"#!/usr/bin/env bash
set -euo pipefail
[ "$1" = just ] || { echo "ov: unknown command $1" >&2; exit 2; }
shift
echo "$*" >> ov-calls.txt
exec just "$@"
"#;

#[test]
fn recipes_run_through_the_configured_command_like_ov() {
    let Some(test) = with_justfile(
        r#"just("two", "a b", "c"); print(`started|${just_started("two a b c")}|${just_started("fail 1")}`);"#,
    ) else {
        return;
    };
    let test = test
        .file("infra/ov", OV_WRAPPER)
        .env("OVSCRIPT_INFRA_JUST", "./ov just");
    std::fs::set_permissions(
        test.path().join("infra/ov"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = test.run();
    out.success().stdout_has("started|true|false");
    assert_eq!(
        std::fs::read_to_string(test.path().join("infra/two.txt")).unwrap(),
        "a b c\n"
    );
    // The recipe check (--dump) and the recipe itself both went through ./ov.
    let calls = std::fs::read_to_string(test.path().join("infra/ov-calls.txt")).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].ends_with("--dump --dump-format json"), "{calls:?}");
    assert!(calls[1].ends_with("-- two a b c"), "{calls:?}");
}

#[test]
fn a_configured_command_that_is_missing_or_malformed_is_named() {
    let Some(test) = with_justfile(r#"just("two", "a", "b");"#) else {
        return;
    };
    test.env("OVSCRIPT_INFRA_JUST", "./ov just")
        .run()
        .code(1)
        .stderr_has("cannot start `")
        .stderr_has("OVSCRIPT_INFRA_JUST");
    let Some(test) = with_justfile(r#"just("two", "a", "b");"#) else {
        return;
    };
    // A command line that does not parse is a setting checked when loaded: nothing runs.
    test.env("OVSCRIPT_INFRA_JUST", "\"./ov just")
        .run()
        .code(2)
        .stderr_has("is not a command line");
}

#[test]
fn a_clearance_flag_set_true_is_never_committed() {
    let test =
        with_git_repo(r#"git.commit("Deploy catalog", ["environments/prod/catalog-airflow.tf"]);"#);
    let infra = test.path().join("infra");
    std::fs::write(
        infra.join(TF_FILE),
        "module \"catalog-airflow\" {\n    docker_image_tag = \"rel-2\"\n    running_dags_cleared = true\n}\n",
    )
    .unwrap();
    let head = git(&infra, &["rev-parse", "HEAD"]);
    test.run().code(1).stderr_has(
        "not committing environments/prod/catalog-airflow.tf: it has `running_dags_cleared = true`",
    );
    assert_eq!(
        git(&infra, &["rev-parse", "HEAD"]),
        head,
        "a commit was made"
    );
}

#[test]
fn a_resumed_run_knows_the_recipes_the_run_it_resumes_started() {
    // The first run starts `just fail 1` and fails; the resumed one stops before its own recipe.
    let Some(test) = with_justfile(
        r#"on_error(|| {
    step("Apply", || {
        if env("OVSCRIPT_TEST_GATE") != () { throw "stopped before the recipe"; }
        just("fail", "1");
    });
}, |message| print(`started|${just_started("fail 1")}`));"#,
    ) else {
        return;
    };
    test.run().code(1).stdout_has("started|true");
    let journals = crate::test::journal_files(test.path());
    assert_eq!(journals.len(), 1, "{journals:?}");
    let first = journals[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    // A fresh run that never starts the recipe did not touch anything.
    let gated = test.clone().env("OVSCRIPT_TEST_GATE", "1");
    gated.run().code(1).stdout_has("started|false");
    // Going on with the first run: its recipe may have touched production.
    gated
        .command(&["run", "--resume", &first, "script.rhai"])
        .code(1)
        .stdout_has("started|true");
    let resumed = crate::test::journal_events(test.path());
    assert!(
        resumed.iter().any(|e| matches!(
            e,
            Event::Adopted { from, started_recipes, .. }
                if *from == first && *started_recipes == [vec!["fail".to_string(), "1".into()]]
        )),
        "{resumed:#?}"
    );
}
