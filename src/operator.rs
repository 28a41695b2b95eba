//! The operator at the keyboard: `step`, `confirm`, `wait_until`, `info`, `warn`, `env`, `now`.

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext};
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::context::Ctx;
use crate::error::{host_error, HostResult, UsageError};
use crate::journal::FinishedStep;
use crate::objects::describe;
use crate::summary::StepOutcome;

/// Steps finished in an earlier run (`--resume`), matched by order and title.
#[derive(Default)]
pub struct Resume {
    pub run_id: String,
    pub finished: Vec<FinishedStep>,
    /// The script changed since that run (`--resume-changed`): say which steps no longer line up.
    pub warn_mismatch: bool,
}

#[derive(Default)]
struct Steps {
    /// Every step so far, nested ones included: what `--resume` matches on.
    ordinal: u64,
    /// Numbers of the steps being run, outermost first: the label `[2.1]`.
    path: Vec<u64>,
    /// How many steps the current level has started.
    counters: Vec<u64>,
}

impl Steps {
    fn enter(&mut self) -> (u64, String) {
        self.ordinal += 1;
        let depth = self.path.len();
        if self.counters.len() <= depth {
            self.counters.push(0);
        }
        self.counters[depth] += 1;
        self.counters.truncate(depth + 1);
        self.path.push(self.counters[depth]);
        let label = self
            .path
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        (self.ordinal, format!("[{label}]"))
    }

    fn leave(&mut self) {
        self.path.pop();
    }
}

pub fn register(engine: &mut Engine, ctx: &Ctx, resume: Resume) {
    register_step(engine, ctx, resume);
    register_confirm(engine, ctx);
    register_wait(engine, ctx);
    register_always(engine, ctx);
    register_on_error(engine, ctx);
    register_table(engine, ctx);
    register_run_facts(engine, ctx);

    let c = ctx.clone();
    describe(
        "info",
        &["message: &str", "()"],
        "Prints a line for the operator.",
        r#"info("deploying " + tag)"#,
    )
    .register_into_engine(engine, move |message: &str| c.ui.info(message));
    let c = ctx.clone();
    describe(
        "warn",
        &["message: &str", "()"],
        "Prints a warning (stderr) and journals it.",
        r#"warn("Sentry shows new errors")"#,
    )
    .register_into_engine(engine, move |message: &str| {
        c.ui.warn(message);
        c.record("warning", json!({ "message": message }));
    });
    describe(
        "env",
        &["name: &str", "?"],
        "The value of an environment variable, or () when it is not set.",
        r#"let who = env("USER");"#,
    )
    .register_into_engine(engine, |name: &str| -> Dynamic {
        std::env::var(name)
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT)
    });
    describe(
        "now",
        &["String"],
        "The current time, UTC, as an RFC 3339 string (what `sentry.errors_since` takes).",
        "let began = now();",
    )
    .register_into_engine(engine, || crate::when::rfc3339(chrono::Utc::now()));
}

fn register_step(engine: &mut Engine, ctx: &Ctx, resume: Resume) {
    let steps = Arc::new(Mutex::new(Steps::default()));
    let resume = Arc::new(resume);
    let c = ctx.clone();
    let (check_steps, check_resume) = (steps.clone(), resume.clone());
    describe(
        "check_step",
        &["title: &str", "body: FnPtr", "?"],
        "A step that runs on `--resume` too: a safety check that must look at the world as it is now (running DAGs, leftovers, the checkout), not as an earlier run saw it.",
        r#"let to_pause = check_step("Check that no DAGs are running", || deploy::dags_to_pause());"#,
    )
    .register_into_engine(engine, move |call: NativeCallContext, title: &str, body: FnPtr| -> HostResult<Dynamic> {
        let (ordinal, label) = check_steps.lock().unwrap_or_else(|e| e.into_inner()).enter();
        let always = Resume {
            run_id: check_resume.run_id.clone(),
            ..Resume::default()
        };
        let result = run_step(&c, &always, &call, &check_steps, ordinal, &label, title, &body);
        check_steps.lock().unwrap_or_else(|e| e.into_inner()).leave();
        result
    });
    let c = ctx.clone();
    describe(
        "step",
        &["title: &str", "body: FnPtr", "?"],
        "Runs `body` as a numbered step: shown with its state and duration, journaled; `--resume` skips it if it finished. Returns what `body` returns.",
        r#"step("Publish the release", || github.publish_release(draft));"#,
    )
    .register_into_engine(engine, move |call: NativeCallContext, title: &str, body: FnPtr| -> HostResult<Dynamic> {
        let (ordinal, label) = steps.lock().unwrap_or_else(|e| e.into_inner()).enter();
        let result = run_step(&c, &resume, &call, &steps, ordinal, &label, title, &body);
        steps.lock().unwrap_or_else(|e| e.into_inner()).leave();
        result
    });
}

#[allow(clippy::too_many_arguments)]
fn run_step(
    ctx: &Ctx,
    resume: &Resume,
    call: &NativeCallContext,
    steps: &Mutex<Steps>,
    ordinal: u64,
    label: &str,
    title: &str,
    body: &FnPtr,
) -> HostResult<Dynamic> {
    if resume.warn_mismatch {
        if let Some(other) = resume
            .finished
            .iter()
            .find(|s| s.ordinal == ordinal && s.title != title)
        {
            ctx.ui.warn(&format!(
                "{label} does not line up with run {}: it was \"{}\" there, it is \"{title}\" now; it runs again",
                resume.run_id, other.title
            ));
        }
    }
    if let Some(done) = resume
        .finished
        .iter()
        .find(|s| s.ordinal == ordinal && s.title == title)
    {
        ctx.ui.step_skipped(label, title, &resume.run_id);
        ctx.summary.step(StepOutcome {
            label: label.to_string(),
            title: title.to_string(),
            outcome: "skipped",
            took: std::time::Duration::ZERO,
        });
        // The steps nested in it are skipped with it: number the next ones as that run did.
        steps.lock().unwrap_or_else(|e| e.into_inner()).ordinal = done.last_ordinal;
        ctx.record(
            "step_skipped",
            json!({ "ordinal": ordinal, "last_ordinal": done.last_ordinal, "title": title, "finished_in": resume.run_id, "value": done.value }),
        );
        return Ok(rhai::serde::to_dynamic(&done.value).unwrap_or(Dynamic::UNIT));
    }
    ctx.ui.step_started(label, title);
    ctx.record(
        "step_start",
        json!({ "ordinal": ordinal, "label": label, "title": title }),
    );
    let started = Instant::now();
    let result = body.call_within_context::<Dynamic>(call, ());
    let took = started.elapsed();
    let (outcome, value, error) = match &result {
        Ok(value) => ("ok", journal_value(value), None),
        Err(e) if matches!(**e, EvalAltResult::ErrorTerminated(..)) => {
            ("interrupted", Value::Null, None)
        }
        Err(e) => ("error", Value::Null, Some(crate::diagnostic::message_of(e))),
    };
    ctx.ui.step_finished(label, title, outcome == "ok", took);
    ctx.summary.step(StepOutcome {
        label: label.to_string(),
        title: title.to_string(),
        outcome,
        took,
    });
    let last_ordinal = steps.lock().unwrap_or_else(|e| e.into_inner()).ordinal;
    ctx.record(
        "step_end",
        json!({
            "ordinal": ordinal, "last_ordinal": last_ordinal, "label": label, "title": title, "outcome": outcome,
            "duration_ms": took.as_millis() as u64, "value": value, "error": error,
        }),
    );
    result
}

/// A step's value as JSON, so a resumed run can hand it on; values JSON cannot hold become null.
fn journal_value(value: &Dynamic) -> Value {
    rhai::serde::from_dynamic::<Value>(value).unwrap_or(Value::Null)
}

fn register_confirm(engine: &mut Engine, ctx: &Ctx) {
    let c = ctx.clone();
    describe(
        "confirm",
        &["question: &str", "bool"],
        "Asks a yes/no question at the terminal (default no). `--yes` answers yes; with no terminal and no `--yes` it is an error, never an assumed yes.",
        r#"if !confirm("Publish " + draft.tag_name + "?") { throw "stopped by the operator"; }"#,
    )
    .register_into_engine(engine, move |question: &str| -> HostResult<bool> {
        let (answer, by) = answer(&c, question)?;
        c.record("confirm", json!({ "question": question, "answer": answer, "by": by }));
        Ok(answer)
    });
}

/// Asks `question` as `confirm` does (`--yes`, a terminal, never an assumed yes), journaled.
pub fn ask_yes_no(ctx: &Ctx, question: &str) -> HostResult<bool> {
    let (yes, by) = answer(ctx, question)?;
    ctx.record(
        "confirm",
        json!({ "question": question, "answer": yes, "by": by }),
    );
    Ok(yes)
}

fn answer(ctx: &Ctx, question: &str) -> HostResult<(bool, &'static str)> {
    if ctx.dry_run {
        ctx.ui
            .would(&format!("ask \"{question}\" (a dry run goes on as if yes)"));
        return Ok((true, "dry-run"));
    }
    if ctx.yes {
        ctx.ui.line(&format!("? {question} [y/N] yes (--yes)"));
        return Ok((true, "--yes"));
    }
    if !std::io::stdin().is_terminal() {
        return Err(host_error(format!(
            "confirm(\"{question}\") needs an answer, but standard input is not a terminal: run it in a terminal, or pass --yes to answer yes to every question"
        )));
    }
    loop {
        let (read, line) = ask(ctx, &format!("? {} [y/N] ", ctx.redact(question)))?;
        match read {
            Ok(0) => {
                return Err(host_error(format!(
                    "confirm(\"{question}\"): no answer (end of input)"
                )))
            }
            Err(e) => {
                return Err(host_error(format!(
                    "confirm(\"{question}\"): cannot read the answer: {e}"
                )))
            }
            Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok((true, "operator")),
                "" | "n" | "no" => return Ok((false, "operator")),
                _ => crate::ui::out("Please answer y or n.\n"),
            },
        }
    }
}

/// Shows `prompt` and reads one line from the terminal, or the interruption if Ctrl-C comes first: a blocked read must
/// not make the operator press Ctrl-C twice (which exits without clean-up).
fn ask(ctx: &Ctx, prompt: &str) -> HostResult<(std::io::Result<usize>, String)> {
    let reader = terminal_reader(ctx);
    let reader = reader.lock().unwrap_or_else(|e| e.into_inner());
    // Lines that arrived before the question was shown are not an answer to it.
    while reader.lines.try_recv().is_ok() {}
    crate::ui::out(prompt);
    // A question interrupted earlier may have left a read waiting: that read serves this one.
    if !reader
        .reading
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        let _ = reader.wanted.send(());
    }
    let mut answer = None;
    ctx.cancel.wait_for(|| {
        answer = match reader.lines.try_recv() {
            Ok(line) => Some(line),
            Err(std::sync::mpsc::TryRecvError::Empty) => None,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => Some((Ok(0), String::new())),
        };
        answer.is_some()
    });
    ctx.check_cancelled()?;
    answer.ok_or_else(|| host_error("no answer was read"))
}

type Line = (std::io::Result<usize>, String);

/// A thread that reads one line from standard input each time one is wanted, and only then:
/// between questions the terminal belongs to others (the REPL's line editor, a recipe).
struct TerminalReader {
    wanted: std::sync::mpsc::Sender<()>,
    lines: std::sync::mpsc::Receiver<Line>,
    /// A read is under way (or asked for).
    reading: Arc<std::sync::atomic::AtomicBool>,
}

fn terminal_reader(ctx: &Ctx) -> &'static Mutex<TerminalReader> {
    static READER: std::sync::OnceLock<Mutex<TerminalReader>> = std::sync::OnceLock::new();
    READER.get_or_init(|| {
        let (wanted, wants) = std::sync::mpsc::channel::<()>();
        let (sender, lines) = std::sync::mpsc::channel();
        let reading = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done_reading = reading.clone();
        let cancel = ctx.cancel.clone();
        std::thread::spawn(move || {
            while wants.recv().is_ok() {
                let mut line = String::new();
                let read = std::io::stdin().lock().read_line(&mut line);
                done_reading.store(false, std::sync::atomic::Ordering::SeqCst);
                let sent = sender.send((read, line));
                cancel.wake();
                if sent.is_err() {
                    return;
                }
            }
        });
        Mutex::new(TerminalReader {
            wanted,
            lines,
            reading,
        })
    })
}

/// The shortest pause between two polls of `wait_until` (run time).
const MIN_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

fn register_wait(engine: &mut Engine, ctx: &Ctx) {
    let c = ctx.clone();
    describe(
        "wait_until",
        &["what: &str", "timeout: ?", "interval: ?", "condition: FnPtr", "bool"],
        "Polls `condition` every `interval` until it returns true, with a spinner and the elapsed time; throws after `timeout`. Durations are seconds or strings like \"90s\", \"15m\".",
        r#"wait_until("the refresh to finish", "2h", "1m", || airflow.running_dags().len() == 0);"#,
    )
    .register_into_engine(
        engine,
        move |call: NativeCallContext, what: &str, timeout: Dynamic, interval: Dynamic, condition: FnPtr| -> HostResult<bool> {
            let timeout = crate::when::duration(&timeout).map_err(|e| host_error(format!("wait_until timeout: {e}")))?;
            let interval = crate::when::duration(&interval).map_err(|e| host_error(format!("wait_until interval: {e}")))?;
            // design.md: no busy loop, whatever the script says.
            let interval = interval.max(MIN_POLL_INTERVAL);
            wait_until(&c, &call, what, timeout, interval, &condition)
        },
    );
}

fn wait_until(
    ctx: &Ctx,
    call: &NativeCallContext,
    what: &str,
    timeout: std::time::Duration,
    interval: std::time::Duration,
    condition: &FnPtr,
) -> HostResult<bool> {
    let started = Instant::now();
    let limit = crate::ui::human(timeout);
    let spinner = ctx
        .ui
        .spinner(&format!("waiting for {what} (up to {limit})"));
    ctx.record("wait_start", json!({ "what": what, "timeout_s": timeout.as_secs_f64(), "interval_s": interval.as_secs_f64() }));
    loop {
        let value = condition.call_within_context::<Dynamic>(call, ())?;
        let done = value.as_bool().map_err(|kind| {
            host_error(format!(
                "wait_until(\"{what}\"): the condition must return true or false, not {kind}"
            ))
        })?;
        let elapsed = ctx.clock.elapsed(started);
        if done {
            spinner.finish();
            ctx.ui.line(&format!(
                "  {what}: ready after {}",
                crate::ui::human(elapsed)
            ));
            ctx.record(
                "wait_end",
                json!({ "what": what, "outcome": "ok", "elapsed_s": elapsed.as_secs_f64() }),
            );
            return Ok(true);
        }
        if elapsed >= timeout {
            spinner.finish();
            ctx.record(
                "wait_end",
                json!({ "what": what, "outcome": "timeout", "elapsed_s": elapsed.as_secs_f64() }),
            );
            return Err(host_error(format!(
                "timed out after {limit} waiting for {what}: look at why it is not ready, then run again (--resume skips the finished steps)"
            )));
        }
        spinner.set_message(format!(
            "waiting for {what} ({} of {limit})",
            crate::ui::human(elapsed)
        ));
        ctx.sleep(interval.min(timeout.saturating_sub(elapsed)))?;
    }
}

fn register_always(engine: &mut Engine, ctx: &Ctx) {
    let c = ctx.clone();
    describe(
        "always",
        &["body: FnPtr", "cleanup: FnPtr", "Dynamic"],
        "Runs `body`, then `cleanup` whatever happens (error, throw, Ctrl-C), then passes on body's error or value. Rhai's try/catch cannot catch Ctrl-C; this can.",
        r#"always(|| deploy(), || airflow.unpause("image_data_refresh"));"#,
    )
    .register_into_engine(engine, move |call: NativeCallContext, body: FnPtr, cleanup: FnPtr| -> HostResult<Dynamic> {
        // A second Ctrl-C exits at once, without running script code: say what was left undone.
        let file = crate::diagnostic::closure_source(cleanup.fn_name()).unwrap_or_else(|| "the script".into());
        let place = format!("{file}:{}", call.call_position().line().unwrap_or(0));
        let redactor = c.redactor.clone();
        let _unfinished = c.cancel.last_resort(move || {
            eprintln!("{}", redactor.redact(&format!("NOT DONE: the clean-up of always() at {place} did not run: do it by hand")));
        });
        let result = body.call_within_context::<Dynamic>(&call, ());
        let cleaned = {
            let _hold = c.cancel.hold();
            cleanup.call_within_context::<Dynamic>(&call, ())
        };
        match (result, cleaned) {
            (Err(e), Err(cleanup_error)) => {
                c.ui.warn(&format!("the clean-up failed too: {}", crate::diagnostic::message_of(&cleanup_error)));
                Err(e)
            }
            (Err(e), Ok(_)) => Err(e),
            (Ok(_), Err(cleanup_error)) => Err(cleanup_error),
            (Ok(value), Ok(_)) => {
                c.check_cancelled()?;
                Ok(value)
            }
        }
    });
}

fn register_table(engine: &mut Engine, ctx: &Ctx) {
    let c = ctx.clone();
    describe(
        "table",
        &["rows: Array", "()"],
        "Prints an array of maps as an aligned table, one column per key.",
        r#"table(sentry.errors_since(began));"#,
    )
    .register_into_engine(engine, move |rows: rhai::Array| {
        c.ui.line(crate::ui::table(&rows, None).trim_end())
    });
    let c = ctx.clone();
    describe(
        "table",
        &["rows: Array", "columns: Array", "()"],
        "Prints an array of maps as an aligned table with the given columns, in that order.",
        r#"table(airflow.running_dags(), ["dag_id", "start_date"]);"#,
    )
    .register_into_engine(engine, move |rows: rhai::Array, columns: rhai::Array| {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        c.ui.line(crate::ui::table(&rows, Some(&columns)).trim_end())
    });
}

fn register_on_error(engine: &mut Engine, ctx: &Ctx) {
    let c = ctx.clone();
    describe(
        "on_error",
        &["body: FnPtr", "handler: FnPtr", "Dynamic"],
        "Runs `body`; if it fails, calls `handler` with the error message (e.g. to offer a rollback), then passes the original error on, its place intact. Not called on Ctrl-C.",
        r#"on_error(|| just("apply", "prod", "catalog-airflow"), |message| offer_rollback(message));"#,
    )
    .register_into_engine(engine, move |call: NativeCallContext, body: FnPtr, handler: FnPtr| -> HostResult<Dynamic> {
        let error = match body.call_within_context::<Dynamic>(&call, ()) {
            Ok(value) => return Ok(value),
            Err(e) if matches!(*e, EvalAltResult::ErrorTerminated(..)) => return Err(e),
            Err(e) => e,
        };
        let message = crate::diagnostic::message_of(&error);
        if let Err(handler_error) = handler.call_within_context::<Dynamic>(&call, (message,)) {
            if matches!(*handler_error, EvalAltResult::ErrorTerminated(..)) {
                return Err(handler_error);
            }
            c.ui.warn(&format!("handling the error failed too: {}", crate::diagnostic::message_of(&handler_error)));
        }
        Err(error)
    });
}

fn register_run_facts(engine: &mut Engine, ctx: &Ctx) {
    engine.register_type_with_name::<UsageError>("UsageError");
    describe(
        "usage_error",
        &["message: &str", "()"],
        "Stops the run as a usage error (exit 2, like a bad flag): for a runbook option that is unknown, lacks its value or has a bad one. Call it before the first step.",
        r#"usage_error("--watch needs a duration, e.g. --watch=10m");"#,
    )
    .register_into_engine(engine, |message: &str| -> HostResult<()> {
        Err(EvalAltResult::ErrorRuntime(
            Dynamic::from(UsageError(message.to_string())),
            rhai::Position::NONE,
        )
        .into())
    });
    let c = ctx.clone();
    describe(
        "by_hand",
        &["what: &str", "()"],
        "Notes something the operator must still do by hand (e.g. \"approve #4242\"): journaled, and listed in the summary at the end of the run, whatever its outcome.",
        r#"by_hand(`approve the changelog PR #${pr.number}`);"#,
    )
    .register_into_engine(engine, move |what: &str| {
        c.summary.by_hand(what);
        c.record("by_hand", json!({ "what": what }));
    });
    let c = ctx.clone();
    describe(
        "earlier_run",
        &["?"],
        "The earlier run of this runbook that is not finished: on `--resume RUN_ID` that run, otherwise the newest one that did not end well (killed, failed, interrupted) and that no later run finished; () when there is none. A map #{run_id, started, outcome, last_step, paused_dags, lock, resuming}: `outcome` is () for a run that was killed, `resuming` is true on --resume.",
        r#"let earlier = earlier_run(); if earlier != () { info(`run ${earlier.run_id} stopped at ${earlier.last_step}`) }"#,
    )
    .register_into_engine(engine, move || -> Dynamic {
        let (record, resuming) = match &c.resumed {
            Some(record) => (Some(record.clone()), true),
            None if c.runbook.is_empty() => (None, false),
            None => (
                crate::journal::RunRecord::newest_unfinished(&c.base_dir, &c.runbook, c.rehearsal)
                    .filter(|r| r.run_id != c.journal.run_id()),
                false,
            ),
        };
        let Some(record) = record else {
            return Dynamic::UNIT;
        };
        let value = json!({
            "run_id": record.run_id,
            "started": record.started,
            "outcome": record.outcome,
            "last_step": record.last_step,
            "paused_dags": record.paused_dags,
            "lock": record.lock,
            "resuming": resuming,
        });
        rhai::serde::to_dynamic(&value).unwrap_or(Dynamic::UNIT)
    });
    let c = ctx.clone();
    describe(
        "dry_run",
        &["bool"],
        "Whether this is a dry run (`--dry-run`): side effects are said, not made.",
        r#"if dry_run() { info("would wait for the image"); }"#,
    )
    .register_into_engine(engine, move || c.dry_run);
    describe(
        "seconds",
        &["duration: ?", "int"],
        "A duration in whole seconds: a number of seconds, or a string like \"90s\", \"15m\", \"2h\"; throws on anything else.",
        r#"let watch = seconds(opts.watch);"#,
    )
    .register_into_engine(engine, |duration: Dynamic| -> HostResult<i64> {
        let parsed = crate::when::duration(&duration).map_err(host_error)?;
        Ok(i64::try_from(parsed.as_secs()).unwrap_or(i64::MAX))
    });
}
