//! `ovscript repl`: the checks operators make by hand ("is anything running?", "what broke since
//! the deploy?") with the runbooks' own runtime — configuration, host objects, `--dry-run`, the
//! journal, the limits. Variables, functions and imports stay from line to line; unfinished input
//! goes on to the next line; Tab completes; the history outlives the session.

use crate::journal::Outcome as Ended;
use rhai::Dynamic;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::engine::Runtime;
use crate::error::Error;

mod complete;
mod history;
mod session;
mod syntax;

use complete::*;
use history::*;
use session::*;
use syntax::*;

/// How many entries the history file keeps.
const HISTORY_SIZE: usize = 1000;

const COMMANDS: &[&str] = &[":doc", ":help", ":load", ":quit", ":vars"];

const HELP: &str = "\
Type Rhai as in a runbook; each line's value is shown (a list of maps as a table).
Variables, functions and imports stay for the whole session. Unfinished input (an open
bracket or string, a trailing operator, a trailing \\) goes on to the next line.

  :doc [NAME]   host functions: all, one object (airflow) or one function (airflow.pause)
  :vars         the variables of this session
  :load FILE    run a script into this session: its variables and functions stay
  :help         this text
  :quit         leave (Ctrl-D too)

Tab completes objects, methods, functions, variables, stdlib modules (deploy::) and commands.
Up and Ctrl-R search the history. Ctrl-C clears the line being typed, or stops the running one.";

pub fn start(runtime: Runtime) -> Result<(), Error> {
    let mut session = Session::new(runtime);
    let config = editor_config().map_err(terminal_error)?;
    let mut editor =
        Editor::<LineHelper, FileHistory>::with_config(config).map_err(terminal_error)?;
    editor.set_helper(Some(LineHelper::new(session.vocabulary.clone())));
    let mut history = History::open(&mut editor, &session.runtime.ctx);
    session.greet();
    loop {
        let input = match read_input(&mut editor, &session) {
            Ok(input) => input,
            // Ctrl-C at the prompt drops what was typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(terminal_error(e)),
        };
        history.remember(&mut editor, &input, &session.runtime.ctx);
        if session.handle(&input) == Flow::Quit {
            break;
        }
    }
    session.finish();
    Ok(())
}

fn editor_config() -> Result<Config, ReadlineError> {
    Ok(Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .history_ignore_dups(true)?
        // A line typed with a leading space stays out of the history, as in bash.
        .history_ignore_space(true)
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build())
}

fn terminal_error(e: ReadlineError) -> Error {
    Error::usage(format!("the REPL cannot use the terminal: {e}"))
}

/// One whole input. On a terminal the validator already keeps unfinished input open; without one
/// (piped input, a dumb terminal) the lines are gathered here the same way.
fn read_input(
    editor: &mut Editor<LineHelper, FileHistory>,
    session: &Session,
) -> Result<String, ReadlineError> {
    let mut input = editor.readline(&session.prompt())?;
    while session.syntax.is_unfinished(&input) {
        match editor.readline("... ") {
            Ok(more) => {
                input.push('\n');
                input.push_str(&more);
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(input)
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// What a line came to.
enum Outcome {
    Value(Dynamic),
    Failed { report: String, message: String },
    Interrupted,
}

impl Outcome {
    /// How the journal says it: the outcome, and the error's message.
    pub(super) fn journaled(&self) -> (Ended, Option<String>) {
        match self {
            Outcome::Value(_) => (Ended::Ok, None),
            Outcome::Failed { message, .. } => (Ended::Error, Some(message.clone())),
            Outcome::Interrupted => (Ended::Interrupted, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::Engine;
    use rustyline::completion::Pair;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    #[test]
    fn open_brackets_strings_and_trailing_operators_are_unfinished() {
        let syntax = Syntax::new();
        for text in [
            "fn f() {",
            "fn f() {\n  1",
            "let a = [1, 2",
            "f(1,",
            "(1 + 2",
            "1 +",
            "let x =",
            "let s = `two",
            "let s = \"abc\\",
            "let x = 1 \\",
            "let x = 1 \\\n+",
            "airflow.",
        ] {
            assert!(syntax.is_unfinished(text), "{text:?} should go on");
        }
        for text in [
            "1 + 2",
            "fn f() {\n  1\n}",
            "let a = 1 2",
            "let s = \"abc",
            "1 + ;",
            "}",
            ":doc airflow",
            "",
            "let x = 1 \\\n+ 2",
        ] {
            assert!(!syntax.is_unfinished(text), "{text:?} should be finished");
        }
    }

    #[test]
    fn a_backslash_joins_lines_outside_strings_only() {
        let syntax = Syntax::new();
        assert_eq!(
            syntax.join_continued_lines("let x = 1 \\\n + 2;"),
            "let x = 1 \n + 2;"
        );
        assert_eq!(
            syntax.join_continued_lines("\"abc\\\ndef\""),
            "\"abc\\\ndef\""
        );
        assert_eq!(syntax.join_continued_lines("1 + 2"), "1 + 2");
    }

    #[test]
    fn an_input_error_shows_the_typed_line_with_a_caret() {
        let inputs = vec![
            "let a = 1;".to_string(),
            "let b = 2;\nb + nosuch".to_string(),
        ];
        let report =
            "error: <input 2>:2:5: Undefined variable: nosuch\n  in function f, called at x:1:1\n";
        let shown = with_input_line(report, &inputs);
        assert_eq!(
            shown,
            "error: <input 2>:2:5: Undefined variable: nosuch\n  |\n2 | b + nosuch\n  |     ^\n  in function f, called at x:1:1\n"
        );
        let from_a_file = "error: lib.rhai:1:1: boom\n";
        assert_eq!(with_input_line(from_a_file, &inputs), from_a_file);
    }

    #[test]
    fn values_are_shown_for_people() {
        let engine = Engine::new();
        let value = |script: &str| render_value(&engine, &engine.eval::<Dynamic>(script).unwrap());
        assert_eq!(value("()"), None);
        assert_eq!(value("40 + 2").as_deref(), Some("42"));
        assert_eq!(value(r#""text""#).as_deref(), Some(r#""text""#));
        assert_eq!(value("[1, 2]").as_deref(), Some("[1, 2]"));
        assert_eq!(
            value(r#"#{ dag_id: "flickr_workflow", state: "running" }"#).as_deref(),
            Some("dag_id: flickr_workflow\nstate:  running")
        );
        let table = value(r#"[#{ dag_id: "a", state: "running" }, #{ dag_id: "bbb" }]"#).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "dag_id  state");
        assert_eq!(lines[2], "a       running");
        assert_eq!(lines[3], "bbb");
    }

    fn vocabulary() -> Vocabulary {
        let mut vocabulary = Vocabulary::default();
        let methods: BTreeSet<Word> = ["running_dags", "pause", "unpause"]
            .into_iter()
            .map(Word::call)
            .collect();
        vocabulary.variables.insert("airflow".into(), methods);
        vocabulary
            .variables
            .insert("dag".into(), [Word::value("dag_id")].into());
        vocabulary.functions.insert(Word::call("wait_until"));
        vocabulary
            .modules
            .insert("deploy".into(), [Word::call("preflight")].into());
        vocabulary
            .doc_names
            .extend(["airflow".into(), "airflow.pause".into()]);
        vocabulary
    }

    fn replacements(completion: (usize, Vec<Pair>)) -> (usize, Vec<String>) {
        let (start, pairs) = completion;
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn tab_completes_methods_keys_functions_modules_and_commands() {
        let v = vocabulary();
        assert_eq!(
            replacements(v.complete("let x = airflow.ru")),
            (16, vec!["running_dags(".to_string()])
        );
        assert_eq!(
            replacements(v.complete("airflow.")).1,
            ["pause(", "running_dags(", "unpause("]
        );
        assert_eq!(replacements(v.complete("dag.d")).1, ["dag_id"]);
        assert_eq!(
            replacements(v.complete("wai")),
            (0, vec!["wait_until(".into()])
        );
        assert_eq!(replacements(v.complete("de")).1, ["deploy::"]);
        assert_eq!(replacements(v.complete("deploy::p")).1, ["preflight("]);
        assert_eq!(
            replacements(v.complete("x = ai")),
            (4, vec!["airflow".into()])
        );
        assert_eq!(replacements(v.complete(":d")), (0, vec![":doc ".into()]));
        assert_eq!(replacements(v.complete(":q")), (0, vec![":quit".into()]));
        assert_eq!(
            replacements(v.complete(":doc airflow.p")),
            (5, vec!["airflow.pause".into()])
        );
        assert!(v.complete("nosuch.").1.is_empty());
    }

    #[test]
    fn the_history_lives_in_the_xdg_state_folder() {
        assert_eq!(
            history_file(Some("/state".into()), Some("/home/op".into())),
            Some(PathBuf::from("/state/ovscript/history"))
        );
        assert_eq!(
            history_file(Some("relative".into()), Some("/home/op".into())),
            Some(PathBuf::from("/home/op/.local/state/ovscript/history"))
        );
        assert_eq!(history_file(None, None), None);
    }

    fn session() -> Session {
        let runtime =
            crate::commands::offline_runtime(crate::config::Config::default(), None).unwrap();
        Session::new(runtime)
    }

    fn value_of(session: &mut Session, text: &str) -> String {
        session.inputs.push(text.to_string());
        let source = input_name(session.inputs.len());
        match session.evaluate(text, &source).0 {
            Outcome::Value(value) => format!("{value:?}"),
            Outcome::Failed { report, .. } => format!("failed: {report}"),
            Outcome::Interrupted => "interrupted".into(),
        }
    }

    #[test]
    fn variables_and_functions_stay_from_line_to_line() {
        let mut s = session();
        assert_eq!(value_of(&mut s, "let n = 5;"), "()");
        assert_eq!(value_of(&mut s, "fn twice(x) {\n  x * 2\n}"), "()");
        assert_eq!(value_of(&mut s, "twice(n)"), "10");
        assert_eq!(value_of(&mut s, "let add = |x| x + n;"), "()");
        assert_eq!(value_of(&mut s, "add.call(1)"), "6");
        assert_eq!(value_of(&mut s, "let n = 7;"), "()");
        assert_eq!(
            s.scope.iter_raw().filter(|(name, ..)| *name == "n").count(),
            1
        );
        assert_eq!(value_of(&mut s, "n"), "7");
        let vocabulary = lock(&s.vocabulary);
        assert!(vocabulary.functions.contains(&Word::call("twice")));
        assert!(vocabulary.variables.contains_key("add"));
    }

    #[test]
    fn an_error_inside_an_earlier_function_shows_that_functions_line() {
        let mut s = session();
        value_of(&mut s, "fn boom() {\n  throw \"the apply failed\";\n}");
        let report = value_of(&mut s, "boom()");
        assert!(
            report.contains("error: <input 1>:2:3: the apply failed"),
            "{report}"
        );
        assert!(
            report.contains("2 |   throw \"the apply failed\";"),
            "{report}"
        );
        assert!(
            report.contains("in function boom, called at <input 2>:1:1"),
            "{report}"
        );
    }

    #[test]
    fn imports_and_stdlib_modules_serve_later_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stdlib")).unwrap();
        std::fs::write(dir.path().join("stdlib/deploy.rhai"), "fn ready() { 42 }\n").unwrap();
        std::fs::write(
            dir.path().join("stdlib/checks.rhai"),
            "fn healthy() { true }\n",
        )
        .unwrap();
        let ctx = crate::commands::context(
            crate::commands::Settings::offline(crate::config::Config::default()),
            dir.path().to_path_buf(),
        )
        .unwrap();
        let runtime = Runtime::new(ctx, Default::default(), Some(dir.path()), Vec::new());
        let mut s = Session::new(runtime);
        assert!(lock(&s.vocabulary).modules["deploy"].contains(&Word::call("ready")));
        assert_eq!(value_of(&mut s, "import \"checks\" as c;"), "()");
        assert_eq!(value_of(&mut s, "c::healthy()"), "true");
        assert_eq!(value_of(&mut s, "deploy::ready()"), "42");
        assert!(value_of(&mut s, "nosuch::x()").contains("Undefined module"));
    }
}
