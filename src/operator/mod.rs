//! The operator at the keyboard and the run itself: `step`, `confirm`, `wait_until`, `always`,
//! `on_error`, `info`, `warn`, `table`, and what a runbook asks about its run (`dry_run`,
//! `earlier_run`, `by_hand`...). Defined once, as a Rhai plugin module: the doc comments are
//! their documentation everywhere. What they share for a run (the context, the step counter,
//! what `--resume` skips) is the engine's tag, which every call can read.

mod confirm;
mod guard;
mod options;
mod step;
mod wait;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};
use serde_json::json;
use std::sync::{Arc, Mutex};

use crate::context::Ctx;
use crate::error::{host_error, HostResult, UsageError, WaitTimedOut};

pub use confirm::{ask_to_type, ask_yes_no};
pub use step::Resume;
use step::{run_step, Steps};
pub use wait::poll;

/// What the operator's functions share for one run, kept in the engine's default tag.
#[derive(Clone)]
struct Host {
    ctx: Ctx,
    steps: Arc<Mutex<Steps>>,
    resume: Arc<Resume>,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, resume: Resume) {
    engine.register_type_with_name::<UsageError>("UsageError");
    // A caught timeout reads as its message: `${e}`, print(e).
    engine
        .register_type_with_name::<WaitTimedOut>("Timeout")
        .register_fn("to_string", |t: &mut WaitTimedOut| t.0.clone())
        .register_fn("to_debug", |t: &mut WaitTimedOut| t.0.clone());
    engine.set_default_tag(Dynamic::from(Host {
        ctx: ctx.clone(),
        steps: Arc::default(),
        resume: Arc::new(resume),
    }));
    engine.register_global_module(rhai::exported_module!(operator_api).into());
}

/// The run's shared state, from the call's tag (set by `register` on the engine).
fn host(call: &NativeCallContext) -> Host {
    call.tag()
        .and_then(|tag| tag.clone().try_cast::<Host>())
        .expect("the engine's tag is the operator's Host: set by operator::register")
}

/// Runs a step: numbered (nested steps as `[2.1]`), skipped if `resume` says it finished.
fn numbered_step(
    call: &NativeCallContext,
    title: &str,
    body: &mut dyn FnMut() -> HostResult<Dynamic>,
    resume: &Resume,
) -> HostResult<Dynamic> {
    let host = host(call);
    let (ordinal, label) = host.steps.lock().unwrap_or_else(|e| e.into_inner()).enter();
    let result = run_step(&host.ctx, resume, &host.steps, ordinal, &label, title, body);
    host.steps.lock().unwrap_or_else(|e| e.into_inner()).leave();
    result
}

/// A step whose body is the host's own work (the deployment's production apply): numbered,
/// journaled and skipped on `--resume` exactly as a script's `step(title, body)`.
pub fn host_step(
    call: &NativeCallContext,
    title: &str,
    mut body: impl FnMut() -> HostResult<Dynamic>,
) -> HostResult<Dynamic> {
    let resume = host(call).resume;
    numbered_step(call, title, &mut body, &resume)
}

/// The earlier unfinished run of this runbook, as `earlier_run()` gives it.
fn earlier_run(ctx: &Ctx) -> Dynamic {
    let Some((record, resuming)) = ctx.earlier_run() else {
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
        "running": record.running,
    });
    rhai::serde::to_dynamic(&value).unwrap_or(Dynamic::UNIT)
}

#[rhai::plugin::export_module]
mod operator_api {
    use super::*;

    /// Runs `body` as a numbered step: shown with its state and duration, journaled; `--resume`
    /// skips it if it finished. Returns what `body` returns.
    ///
    /// ```rhai
    /// step("Publish the release", || github.publish_release(draft));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn step(call: NativeCallContext, title: &str, body: FnPtr) -> HostResult<Dynamic> {
        let resume = host(&call).resume;
        numbered_step(
            &call,
            title,
            &mut || body.call_within_context(&call, ()),
            &resume,
        )
    }

    /// A step that runs on `--resume` too: a safety check that must look at the world as it is
    /// now (running DAGs, leftovers, the checkout), not as an earlier run saw it.
    ///
    /// ```rhai
    /// let to_pause = check_step("Check that no DAGs are running", || deploy::dags_to_pause());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check_step(call: NativeCallContext, title: &str, body: FnPtr) -> HostResult<Dynamic> {
        let always = Resume {
            run_id: host(&call).resume.run_id.clone(),
            ..Resume::default()
        };
        numbered_step(
            &call,
            title,
            &mut || body.call_within_context(&call, ()),
            &always,
        )
    }

    /// Asks a yes/no question at the terminal (default no). `--yes` answers yes; with no terminal
    /// and no `--yes` it is an error, never an assumed yes.
    ///
    /// ```rhai
    /// if !confirm("Publish " + draft.tag_name + "?") { throw "stopped by the operator"; }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn confirm(call: NativeCallContext, question: &str) -> HostResult<bool> {
        ask_yes_no(&host(&call).ctx, question)
    }

    /// Polls `condition` every `interval` until it returns true, with a spinner and the elapsed
    /// time; throws after `timeout`. Durations are seconds or strings like "90s", "15m".
    ///
    /// ```rhai
    /// wait_until("the refresh to finish", "2h", "1m", || airflow.running_dags().len() == 0);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn wait_until(
        call: NativeCallContext,
        what: &str,
        timeout: Dynamic,
        interval: Dynamic,
        condition: FnPtr,
    ) -> HostResult<bool> {
        let timeout = crate::when::duration(&timeout)
            .map_err(|e| host_error(format!("wait_until timeout: {e}")))?;
        let interval = crate::when::duration(&interval)
            .map_err(|e| host_error(format!("wait_until interval: {e}")))?;
        // design.md: no busy loop, whatever the script says.
        let interval = interval.max(wait::MIN_POLL_INTERVAL);
        wait::wait_until(&host(&call).ctx, &call, what, timeout, interval, &condition)
    }

    /// Runs `body`, then `cleanup` whatever happens (error, throw, Ctrl-C), then passes on body's
    /// error or value. Rhai's try/catch cannot catch Ctrl-C; this can.
    ///
    /// ```rhai
    /// always(|| deploy(), || airflow.unpause("image_data_refresh"));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn always(call: NativeCallContext, body: FnPtr, cleanup: FnPtr) -> HostResult<Dynamic> {
        guard::always(&host(&call).ctx, &call, &body, &cleanup)
    }

    /// Runs `body`; if it fails, calls `handler` with the error message (e.g. to offer a
    /// rollback), then passes the original error on, its place intact. Not called on Ctrl-C.
    ///
    /// ```rhai
    /// on_error(|| just("apply", "prod", "catalog-airflow"), |message| offer_rollback(message));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn on_error(call: NativeCallContext, body: FnPtr, handler: FnPtr) -> HostResult<Dynamic> {
        guard::on_error(&host(&call).ctx, &call, &body, &handler)
    }

    /// Prints a line for the operator.
    ///
    /// ```rhai
    /// info("deploying " + tag)
    /// ```
    pub fn info(call: NativeCallContext, message: &str) {
        host(&call).ctx.ui.info(message);
    }

    /// Prints a warning (stderr) and journals it.
    ///
    /// ```rhai
    /// warn("Sentry shows new errors")
    /// ```
    pub fn warn(call: NativeCallContext, message: &str) {
        host(&call).ctx.warn(message);
    }

    /// Prints an array of maps as an aligned table, one column per key.
    ///
    /// ```rhai
    /// table(sentry.errors_since(began));
    /// ```
    pub fn table(call: NativeCallContext, rows: Array) {
        host(&call)
            .ctx
            .ui
            .line(crate::ui::table(&rows, None).trim_end());
    }

    /// Prints an array of maps as an aligned table with the given columns, in that order.
    ///
    /// ```rhai
    /// table(airflow.running_dags(), ["dag_id", "start_date"]);
    /// ```
    #[rhai_fn(name = "table")]
    pub fn table_of_columns(call: NativeCallContext, rows: Array, columns: Array) {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        host(&call)
            .ctx
            .ui
            .line(crate::ui::table(&rows, Some(&columns)).trim_end());
    }

    /// The value of an environment variable, or () when it is not set.
    ///
    /// ```rhai
    /// let who = env("USER");
    /// ```
    pub fn env(name: &str) -> Dynamic {
        std::env::var(name)
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT)
    }

    /// The current time, UTC, as an RFC 3339 string (what `sentry.errors_since` takes).
    ///
    /// ```rhai
    /// let began = now();
    /// ```
    pub fn now() -> String {
        crate::when::rfc3339(chrono::Utc::now())
    }

    /// The runbook's options: `known` maps each to its default (a bool for a switch, `--name`;
    /// anything else takes `--name=value`), `durations` names those that take a duration. Read
    /// from `args`; a bad one stops the run as a usage error (exit 2) before any step, and
    /// `ovscript run SCRIPT --help` lists them with what the script's header says of each.
    ///
    /// ```rhai
    /// let opts = options(args, #{ "watch": "", "skip-staging": false }, ["watch"]);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn options(args: Array, known: Map, durations: Array) -> HostResult<Map> {
        super::options::chosen(&args, &known, &durations).map_err(crate::error::usage_failure)
    }

    /// Whether a caught error is `wait_until` running out of time (and not another failure whose
    /// message mentions a timeout).
    ///
    /// ```rhai
    /// try { wait_until("the image", "5m", "15s", || registry.has_tag(image, tag)); } catch (e) { if !is_timeout(e) { throw e; } }
    /// ```
    pub fn is_timeout(error: Dynamic) -> bool {
        error.is::<WaitTimedOut>()
    }

    /// Stops the run as a usage error (exit 2, like a bad flag): for a runbook option that is
    /// unknown, lacks its value or has a bad one. Call it before the first step.
    ///
    /// ```rhai
    /// usage_error("--watch needs a duration, e.g. --watch=10m");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn usage_error(message: &str) -> HostResult<()> {
        Err(crate::error::usage_failure(message))
    }

    /// Notes something the operator must still do by hand (e.g. "approve #4242"): journaled, and
    /// listed in the summary at the end of the run, whatever its outcome.
    ///
    /// ```rhai
    /// by_hand(`approve the changelog PR #${pr.number}`);
    /// ```
    pub fn by_hand(call: NativeCallContext, what: &str) {
        host(&call).ctx.by_hand(what);
    }

    /// What this run has noted with `by_hand` so far, oldest first: what the summary at its end
    /// lists as left to do by hand.
    ///
    /// ```rhai
    /// let left = left_by_hand(); if !left.is_empty() { slack.post(`left to do: ${left}`) }
    /// ```
    pub fn left_by_hand(call: NativeCallContext) -> Array {
        host(&call)
            .ctx
            .summary
            .left_by_hand()
            .into_iter()
            .map(Dynamic::from)
            .collect()
    }

    /// The earlier run of this runbook that is not finished: on `--resume RUN_ID` that run,
    /// otherwise the newest one that did not end well (killed, failed, interrupted) and that no
    /// later run finished; () when there is none. A map #{run_id, started, outcome, last_step,
    /// paused_dags, lock, resuming, running}: `outcome` is () for a run that was killed or still
    /// runs, `resuming` is true on --resume, `running` while its process lives on this machine.
    ///
    /// ```rhai
    /// let earlier = earlier_run(); if earlier != () { info(`run ${earlier.run_id} stopped at ${earlier.last_step}`) }
    /// ```
    pub fn earlier_run(call: NativeCallContext) -> Dynamic {
        super::earlier_run(&host(&call).ctx)
    }

    /// Whether this is a dry run (`--dry-run`): side effects are said, not made.
    ///
    /// ```rhai
    /// if dry_run() { info("would wait for the image"); }
    /// ```
    pub fn dry_run(call: NativeCallContext) -> bool {
        host(&call).ctx.dry_run
    }

    /// A duration in whole seconds: a number of seconds, or a string like "90s", "15m", "2h";
    /// throws on anything else.
    ///
    /// ```rhai
    /// let watch = seconds(opts.watch);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn seconds(duration: Dynamic) -> HostResult<i64> {
        let parsed = crate::when::duration(&duration).map_err(host_error)?;
        Ok(i64::try_from(parsed.as_secs()).unwrap_or(i64::MAX))
    }
}
