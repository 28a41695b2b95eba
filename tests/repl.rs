//! `ovscript repl` driven through a pseudo-terminal as a person would: typing, Tab, Enter, Ctrl-C,
//! Ctrl-R, Ctrl-D, against the simulated world where Airflow is needed.

use expectrl::session::OsSession;
use expectrl::{Expect, Regex, Session};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ovscript::journal::Event;
use ovscript::world::{Scenario, World};

use crate::test::{journal_events, Test};

/// How long one expectation may wait: the binary answers a typed line in milliseconds, but the
/// machine is shared with other builds.
const PATIENCE: Duration = Duration::from_secs(8);

const PROMPT: &str = "ovscript> ";
const DRY_RUN_PROMPT: &str = "ovscript (dry run)> ";

/// One REPL on a pseudo-terminal, with what it has shown so far (for failure messages).
struct Repl {
    session: OsSession,
    prompt: &'static str,
    transcript: String,
}

impl Repl {
    /// `ovscript repl [flags]` in the test's directory, with its own home and state folders.
    fn start(test: &Test, flags: &[&str]) -> Repl {
        let mut argv = vec!["repl"];
        argv.extend(flags);
        let mut command = test.prepare(&argv);
        // The pseudo-terminal is the child's standard streams; pipes would replace it.
        command
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .env("HOME", test.path())
            .env("XDG_STATE_HOME", test.path().join("state"))
            .env("TERM", "xterm");
        let mut session = Session::spawn(command).expect("start ovscript repl on a pty");
        session.set_expect_timeout(Some(PATIENCE));
        let prompt = if flags.contains(&"--dry-run") {
            DRY_RUN_PROMPT
        } else {
            PROMPT
        };
        let mut repl = Repl {
            session,
            prompt,
            transcript: String::new(),
        };
        repl.expect_prompt();
        repl
    }

    /// Waits for `text` on the terminal, failing with everything shown so far.
    #[track_caller]
    fn expect(&mut self, text: &str) {
        let found = self.session.expect(text);
        self.record(found, text);
    }

    #[track_caller]
    fn expect_regex(&mut self, pattern: &str) {
        let found = self.session.expect(Regex(pattern));
        self.record(found, pattern);
    }

    #[track_caller]
    fn record(&mut self, found: Result<expectrl::Captures, expectrl::Error>, wanted: &str) {
        match found {
            Ok(captures) => self
                .transcript
                .push_str(&String::from_utf8_lossy(captures.as_bytes())),
            Err(e) => {
                let mut rest = vec![0; 64 * 1024];
                let n = self.session.try_read(&mut rest).unwrap_or(0);
                panic!(
                    "the REPL did not show {wanted:?} ({e})\n--- shown so far\n{}{}",
                    self.transcript,
                    String::from_utf8_lossy(&rest[..n])
                );
            }
        }
    }

    #[track_caller]
    fn expect_prompt(&mut self) {
        self.expect(self.prompt);
    }

    /// Keys as typed (`\t` is Tab, `\x03` Ctrl-C, `\x12` Ctrl-R, `\x1b[A` Up).
    fn keys(&mut self, keys: &str) {
        self.session.send(keys).expect("type into the REPL");
    }

    /// A line and Enter.
    fn line(&mut self, text: &str) {
        self.keys(&format!("{text}\r"));
    }

    /// The line that finishes an input showing nothing: waits for its echo and then the prompt
    /// (the prompt redrawn while the input went on must not count), since keys typed before the
    /// prompt comes back may be lost.
    #[track_caller]
    fn last_line(&mut self, text: &str) {
        self.line(text);
        self.expect(text);
        self.expect_prompt();
    }

    /// Types `text`, waits for the value shown, and for the prompt after it.
    #[track_caller]
    fn evaluate(&mut self, text: &str, shown: &str) {
        self.line(text);
        self.expect(shown);
        self.expect_prompt();
    }

    /// Ctrl-D at an empty prompt: the REPL ends by itself.
    fn leave(mut self) {
        self.keys("\x04");
        self.session
            .expect(expectrl::Eof)
            .expect("the REPL ends on Ctrl-D");
    }
}

#[test]
fn an_expression_shows_its_value() {
    let test = Test::new();
    let mut repl = Repl::start(&test, &[]);
    repl.evaluate("6 * 7", "42");
    repl.evaluate(
        r#"#{ dag: "flickr_workflow", paused: false }"#,
        "dag:    flickr_workflow",
    );
    repl.leave();
}

#[test]
fn a_function_typed_over_several_lines_is_called_later() {
    let test = Test::new();
    let mut repl = Repl::start(&test, &[]);
    // Enter inside the open brace goes on to the next line instead of running.
    repl.line("fn double(x) {");
    repl.line("  x * 2");
    repl.last_line("}");
    repl.line("let base = 10 + \\");
    repl.last_line("  11;");
    repl.evaluate("double(base)", "42");
    repl.leave();
}

#[test]
fn tab_completes_the_methods_of_airflow() {
    let test = Test::new();
    let mut repl = Repl::start(&test, &[]);
    repl.keys("airflow.ru\t");
    repl.expect("airflow.running_dags(");
    repl.keys("\x03");
    repl.expect_prompt();
    repl.keys(":d\t");
    repl.expect(":doc ");
    repl.line("airflow.pause");
    repl.expect("Pauses a DAG");
    repl.expect_prompt();
    repl.leave();
}

#[test]
fn running_dags_show_as_a_table_from_the_simulated_airflow() {
    let world = World::start(Scenario::DagRunning).expect("the simulated world");
    let credentials = world.credentials().clone();
    let test = Test::new()
        .env("OVSCRIPT_AIRFLOW_URL", &world.airflow_url())
        .env("OVSCRIPT_AIRFLOW_USER", &credentials.airflow_user)
        .env("OVSCRIPT_AIRFLOW_PASSWORD", &credentials.airflow_password);
    let mut repl = Repl::start(&test, &[]);
    repl.keys("airflow.runn\t");
    repl.expect("running_dags(");
    repl.line(")");
    repl.expect_regex(r"dag_id +run_id +start_date +state");
    repl.expect_regex(r"flickr_workflow +\S+ +\S+ +running");
    repl.expect_prompt();
    repl.leave();
    assert!(
        world.requests().iter().any(|r| r.path.contains("/dagRuns")),
        "the REPL asked Airflow for DAG runs"
    );
}

#[test]
fn a_dry_run_session_says_what_it_would_change_and_journals_each_line() {
    let world = World::start(Scenario::Calm).expect("the simulated world");
    let credentials = world.credentials().clone();
    let test = Test::new()
        .env("OVSCRIPT_AIRFLOW_URL", &world.airflow_url())
        .env("OVSCRIPT_AIRFLOW_USER", &credentials.airflow_user)
        .env("OVSCRIPT_AIRFLOW_PASSWORD", &credentials.airflow_password);
    let mut repl = Repl::start(&test, &["--dry-run"]);
    repl.evaluate(r#"airflow.pause("flickr_workflow")"#, "would:");
    repl.leave();
    assert_eq!(world.dag_paused("flickr_workflow"), Some(false));
    let lines = journal_events(test.path());
    assert!(
        lines
            .iter()
            .any(|e| matches!(e, Event::ReplLine { input, outcome, .. }
            if input == r#"airflow.pause("flickr_workflow")"# && outcome == "ok")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|e| matches!(e, Event::Would { .. })),
        "{lines:#?}"
    );
}

#[test]
fn an_error_shows_the_line_with_a_caret_then_the_prompt_comes_back() {
    let test = Test::new();
    let mut repl = Repl::start(&test, &[]);
    repl.last_line("let x = 1;");
    repl.line("x + nosuch");
    repl.expect("Undefined variable: nosuch");
    repl.expect("1 | x + nosuch");
    repl.expect_regex(r"\|     \^");
    repl.expect_prompt();
    repl.line(r#"throw "the apply failed""#);
    repl.expect("error: <input 3>:1:1: the apply failed");
    repl.expect_prompt();
    repl.evaluate("x + 41", "42");
    repl.leave();
}

#[test]
fn ctrl_c_stops_the_running_line_and_the_next_one_too() {
    let test = Test::new();
    let mut repl = Repl::start(&test, &[]);
    for _ in 0..2 {
        repl.line(r#"wait_until("x", 600, 1, || false)"#);
        repl.expect("waiting for x");
        let pressed = Instant::now();
        repl.keys("\x03");
        repl.expect("interrupted\r\n");
        repl.expect_prompt();
        let took = pressed.elapsed();
        assert!(took < Duration::from_secs(3), "Ctrl-C took {took:?}");
    }
    // Still the same session: a second interrupted line did not end it.
    repl.evaluate("6 * 7", "42");
    // At the prompt Ctrl-C only drops what was typed.
    repl.keys("1 + \x03");
    repl.expect_prompt();
    repl.evaluate("6 * 7", "42");
    repl.leave();
}

#[test]
fn history_is_kept_for_the_next_session_and_searched_with_ctrl_r() {
    let test = Test::new().env("OVSCRIPT_SENTRY_TOKEN", "sntrys-typed-secret");
    let mut first = Repl::start(&test, &[]);
    first.evaluate("6 * 7", "42");
    first.last_line("let unrelated = 1;");
    // A line holding a configured secret is never written down.
    first.last_line(r#"let token = "sntrys-typed-secret";"#);
    first.leave();
    let saved = std::fs::read_to_string(test.path().join("state/ovscript/history"))
        .expect("the history file in $XDG_STATE_HOME/ovscript");
    assert!(saved.contains("6 * 7"), "{saved}");
    assert!(saved.contains("let unrelated = 1;"), "{saved}");
    assert!(!saved.contains("sntrys-typed-secret"), "{saved}");

    let mut second = Repl::start(&test, &[]);
    second.keys("\x126 *");
    second.expect("6 * 7");
    second.keys("\r");
    second.expect("42");
    second.expect_prompt();
    // Up recalls the last line: the one just found.
    second.keys("\x1b[A\r");
    second.expect("42");
    second.expect_prompt();
    second.leave();
}

#[test]
fn a_loaded_script_and_stdlib_modules_serve_the_session() {
    let test = Test::new()
        .file("stdlib/deploy.rhai", "fn ready() {\n  40 + 2\n}\n")
        .file(
            "checks.rhai",
            "fn doubled(x) { x * 2 }\nlet threshold = 21;\n",
        );
    let mut repl = Repl::start(&test, &[]);
    repl.last_line(":load checks.rhai");
    repl.evaluate("doubled(threshold)", "42");
    repl.line(":vars");
    repl.expect("threshold: 21");
    repl.expect_prompt();
    // A stdlib module completes and is imported on first use.
    repl.keys("deploy::re\t");
    repl.expect("deploy::ready(");
    repl.line(")");
    repl.expect("(imported stdlib/deploy.rhai as deploy)");
    repl.expect("42");
    repl.expect_prompt();
    repl.line(":quit");
    repl.session
        .expect(expectrl::Eof)
        .expect("the REPL ends on :quit");
}

#[test]
fn a_rehearsal_session_explores_the_simulated_world() {
    let test = Test::new();
    let mut repl = Repl::start(&test, &["--rehearse=dag-running"]);
    repl.line("airflow.running_dags()");
    repl.expect_regex(r"flickr_workflow +\S+ +\S+ +running");
    repl.expect_prompt();
    repl.leave();
}

#[test]
fn ctrl_c_stops_a_request_that_hangs() {
    let faults = ovscript::world::Faults {
        delay: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Default::default()).expect("the world");
    let credentials = world.credentials().clone();
    let test = Test::new()
        .env("OVSCRIPT_AIRFLOW_URL", &world.airflow_url())
        .env("OVSCRIPT_AIRFLOW_USER", &credentials.airflow_user)
        .env("OVSCRIPT_AIRFLOW_PASSWORD", &credentials.airflow_password)
        .env("OVSCRIPT_AIRFLOW_TIMEOUT", "120");
    let mut repl = Repl::start(&test, &[]);
    repl.line("airflow.running_dags()");
    std::thread::sleep(Duration::from_millis(300));
    let pressed = Instant::now();
    repl.keys("\x03");
    repl.expect("interrupted");
    repl.expect_prompt();
    assert!(
        pressed.elapsed() < Duration::from_secs(3),
        "Ctrl-C took {:?}",
        pressed.elapsed()
    );
    repl.evaluate("6 * 7", "42");
    repl.leave();
}

#[test]
fn a_rehearsal_session_keeps_the_operators_real_tokens_out_of_history_and_output() {
    let test = Test::new().env("OVSCRIPT_GITHUB_TOKEN", "ghp_RealOperatorToken ");
    let mut repl = Repl::start(&test, &["--rehearse"]);
    repl.evaluate(r#"env("OVSCRIPT_GITHUB_TOKEN")"#, "***");
    repl.last_line(r#"let mine = "ghp_RealOperatorToken";"#);
    repl.evaluate("6 * 7", "42");
    assert!(!repl_transcript_has(&repl, "ghp_RealOperatorToken\""));
    repl.leave();
    let saved = std::fs::read_to_string(test.path().join("state/ovscript/history"))
        .expect("the history file in $XDG_STATE_HOME/ovscript");
    assert!(saved.contains("6 * 7"), "{saved}");
    assert!(!saved.contains("ghp_RealOperatorToken"), "{saved}");
}

/// Whether the REPL ever printed `text` (its echo of typed input aside, which is the terminal's).
fn repl_transcript_has(repl: &Repl, text: &str) -> bool {
    repl.transcript
        .lines()
        .filter(|l| !l.contains(PROMPT))
        .any(|l| l.contains(text))
}
