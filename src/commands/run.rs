//! `ovscript run SCRIPT` and the interpreter form (`ovscript SCRIPT`, a shebang, a justfile
//! recipe): the script read, its earlier run found for `--resume`, the run journaled and
//! summed up.

use clap::{CommandFactory, Parser};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::setup::{clock_for, context, offline_runtime, start_rehearsal, Settings};
use super::{load_config, read_script, working_dir};
use crate::cli::{Cli, Command, RunArgs};
use crate::context::Ctx;
use crate::embedded::Embedded;
use crate::engine::Runtime;
use crate::error::Error;
use crate::journal::{self, Event, Outcome};
use crate::operator::Resume;

/// `ovscript SCRIPT ARGS...`: a script file run as `ovscript run SCRIPT ARGS...` (a shebang, a
/// just `[script("ovscript")]` recipe); any other first word is a usage error.
pub(super) fn script(words: Vec<std::ffi::OsString>) -> Result<(), Error> {
    let first = words.first().cloned().unwrap_or_default();
    if !Path::new(&first).is_file() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        return Err(Error::usage(format!(
            "error: `{}` is neither a command nor a script file; the commands are {} (ovscript --help)",
            first.to_string_lossy(),
            names.join(", ")
        )));
    }
    let argv = ["ovscript".into(), "run".into()].into_iter().chain(words);
    match Cli::try_parse_from(crate::cli::script_help_as_argument(argv.collect())) {
        Ok(Cli {
            command: Command::Run(args),
        }) => run(args),
        Ok(_) => Err(Error::usage("error: cannot run the script")),
        Err(e) => Err(Error::usage(e.to_string())),
    }
}

pub(super) fn run(mut args: RunArgs) -> Result<(), Error> {
    // `ovscript run SCRIPT -- ARGS` still works: the `--` is not the script's.
    if args.args.first().is_some_and(|a| a == "--") {
        args.args.remove(0);
    }
    let base_dir = working_dir()?;
    if args.args.iter().any(|a| a == "--help" || a == "-h") {
        // The runbook's own help: its options, read from the script; nothing runs.
        let config = load_config(&args.common, &base_dir)?;
        let runtime = offline_runtime(config, args.script.parent())?;
        return crate::runbook_page::help(&runtime, &args.script);
    }
    let text = read_script(&args.script)?;
    let config = load_config(&args.common, &base_dir)?;
    // A recipe's body that just wrote to a temporary file is named by its justfile and recipe.
    let embedded = Embedded::detect(&args.script, &base_dir);
    let source = match &embedded {
        Some(e) => {
            crate::diagnostic::label_source(&e.source_name(), &e.label());
            Source {
                name: e.source_name(),
                dir: base_dir.clone(),
                runbook: e.runbook_id(&base_dir),
                text: e.reindent(&text, &base_dir),
            }
        }
        None => Source {
            name: args.script.display().to_string(),
            dir: args
                .script
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            runbook: journal::runbook_id(&args.script),
            text,
        },
    };
    let identity = source.identity(&base_dir);
    let mode = journal::Mode {
        dry_run: args.dry_run,
        rehearsal: args.rehearse.is_some(),
    };
    let runbook = source.runbook.clone();
    let resumed = match &args.resume {
        Some(run_id) => Some(crate::resume::resumable(
            &base_dir,
            run_id,
            mode,
            &runbook,
            &identity,
            args.resume_changed,
        )?),
        None => None,
    };
    let resume = match &resumed {
        Some(record) => Resume {
            run_id: record.run_id.clone(),
            finished: record.finished.clone(),
            warn_mismatch: args.resume_changed,
        },
        None => Resume::default(),
    };
    let mut config = config;
    let rehearsal = start_rehearsal(args.rehearse.as_deref(), &base_dir, &mut config)?;
    let settings = Settings {
        config,
        dry_run: args.dry_run,
        yes: args.yes,
        clock: clock_for(&rehearsal),
        journal: true,
        runbook,
        rehearsal: rehearsal.is_some(),
        resumed,
    };
    let ctx = context(settings, base_dir)?;
    if args.break_lock {
        crate::deploy_lock::break_lock(&ctx).map_err(|e| {
            Error::Script(ctx.redact(&format!(
                "error: --break-lock: {}",
                crate::diagnostic::message_of(&e)
            )))
        })?;
    }
    if let Some(rehearsal) = &rehearsal {
        ctx.ui.line(&format!(
            "rehearsal `{}`: a simulated world on this machine; nothing real is touched",
            rehearsal.scenario
        ));
        ctx.record(Event::Rehearsal {
            scenario: rehearsal.scenario.to_string(),
            dir: json!(rehearsal.dir),
        });
    }
    let again = crate::resume::go_on_command(&args, embedded.as_ref());
    let result = execute(ctx.clone(), resume, &source, args.args, &again);
    if let Some(rehearsal) = rehearsal {
        ctx.ui.line(rehearsal.report().trim_end());
    }
    result
}

/// The script a run runs: its text, the name errors and the journal give it, the folder its
/// imports are found from, and the runbook it is.
pub struct Source {
    pub name: String,
    pub dir: PathBuf,
    pub runbook: String,
    pub text: String,
}

impl Source {
    /// What `--resume` compares: the sha-256 of the script and of every module it imports.
    pub fn identity(&self, base_dir: &Path) -> String {
        let dirs = crate::modules::search_dirs(Some(&self.dir), base_dir);
        sha256(&crate::modules::identity_text(
            &self.text, &self.name, &dirs,
        ))
    }
}

/// Compiles and runs one script in `ctx`, journaling the run and mapping failures to exit codes.
pub fn execute(
    ctx: Ctx,
    resume: Resume,
    source: &Source,
    args: Vec<String>,
    again: &str,
) -> Result<(), Error> {
    let name = source.name.clone();
    let text = source.text.as_str();
    let runtime = Runtime::new(ctx.clone(), resume, Some(&source.dir), args.clone());
    let ast = runtime.compile(&name, text).map_err(|e| {
        ctx.record(Event::CompileError {
            script: name.clone(),
            error: crate::diagnostic::message_of(&e),
        });
        Error::Compile(ctx.redact(&crate::diagnostic::parse_report(&e, &name)))
    })?;
    // The whole script is checked before its first step: a typo late in it must not stop a
    // deploy half-way, with a flag set.
    let problems = crate::check::check_compiled(&runtime, &name, &ast);
    if !problems.is_empty() {
        ctx.record(Event::CompileError {
            script: name.clone(),
            error: problems.join("\n"),
        });
        return Err(Error::Compile(ctx.redact(&format!(
            "{}\n{} problem(s) found: nothing was run",
            problems
                .iter()
                .map(|p| format!("error: {p}"))
                .collect::<Vec<_>>()
                .join("\n"),
            problems.len()
        ))));
    }
    if crate::actions::active() && !ctx.yes {
        // Nobody can answer in a job: say so before the first step, not at a question half-way.
        let dirs = crate::modules::search_dirs(Some(&source.dir), &ctx.base_dir);
        let whole = crate::modules::identity_text(text, &name, &dirs);
        if whole.contains("confirm(") || whole.contains("deployment(") {
            return Err(Error::Usage(format!(
                "error: {name} asks questions, and nobody can answer them in a GitHub Actions job: run it with --yes (the approval is the job's environment and its required reviewers). Nothing was run."
            )));
        }
    }
    ctx.record(Event::RunStart {
        script: name.clone(),
        runbook: ctx.runbook.clone(),
        sha256: source.identity(&ctx.base_dir),
        args: args.clone(),
        dry_run: ctx.dry_run,
        run_id: ctx.journal.run_id().to_string(),
        resumes: ctx.resumed.as_ref().map(|r| r.run_id.clone()),
        // Who ran it, for `ovscript log`: git's identity, as the deploy lock names it.
        who: Some(crate::git::Git::new(&ctx).identity()),
    });
    if let Some(resumed) = &ctx.resumed {
        // What the resumed run left is this run's to put back, even if this one crashes too.
        ctx.record(Event::Adopted {
            from: resumed.run_id.clone(),
            paused_dags: resumed.paused_dags.clone(),
            lock: resumed.lock.clone(),
            started_recipes: resumed.started_recipes.clone(),
        });
    }
    let started = Instant::now();
    let result = runtime.run(&ast);
    ctx.at_end.run();
    let took = started.elapsed();
    let summary = ctx.summary.render();
    if !summary.is_empty() {
        ctx.ui.line(summary.trim_end());
    }
    let ended = ended(&ctx, result, &name, &runtime, took, again);
    share_with_the_team(&ctx);
    ended
}

/// A real deploy's record goes to the team's history (the infrastructure origin's history
/// branch); what cannot be pushed waits for the next run. Never fails the run.
fn share_with_the_team(ctx: &Ctx) {
    if ctx.dry_run || ctx.rehearsal || !ctx.guards.deploying() {
        return;
    }
    let (Some(journal), Ok(infra)) = (ctx.journal.path(), ctx.infra_dir()) else {
        return;
    };
    match crate::history::team::share(&ctx.base_dir, &infra, journal) {
        Ok(_) => {}
        Err(why) => ctx.ui.warn(&ctx.redact(&format!(
            "the team's history was not updated ({why}): this run's record waits in .ovscript/outbox/ and goes with the next run"
        ))),
    }
}

/// How the run ended: journaled, reported, and said as ovscript's result.
fn ended(
    ctx: &Ctx,
    result: Result<rhai::Dynamic, Box<rhai::EvalAltResult>>,
    name: &str,
    runtime: &Runtime,
    took: std::time::Duration,
    again: &str,
) -> Result<(), Error> {
    let journal_note = ctx
        .journal
        .path()
        .map(|p| format!(" (journal: {})", p.display()))
        .unwrap_or_default();
    match result {
        Ok(_) => {
            ctx.record(Event::RunEnd {
                outcome: Outcome::Ok,
                error: None,
                duration_ms: took.as_millis() as u64,
                by_hand: ctx.summary.left_by_hand(),
            });
            ctx.ui
                .status(&format!("done in {}{journal_note}", crate::ui::human(took)));
            super::job::report(ctx, name, Outcome::Ok, again);
            Ok(())
        }
        // Exit 2 says "nothing ran": only before the first step. Later, the run failed.
        Err(e) if crate::diagnostic::is_usage(&e) && !ctx.summary.any_step_ran() => {
            let message = crate::diagnostic::message_of(&e);
            ctx.record(Event::RunEnd {
                outcome: Outcome::Usage,
                error: Some(message.clone()),
                duration_ms: took.as_millis() as u64,
                by_hand: Vec::new(),
            });
            super::job::report(ctx, name, Outcome::Usage, again);
            Err(Error::Usage(
                ctx.redact(&format!("error: {name}: {message}")),
            ))
        }
        Err(e) => {
            let interrupted = crate::diagnostic::is_interrupt(&e);
            let why = ctx
                .cancel
                .interruption()
                .unwrap_or(crate::cancel::Interruption::Interrupt);
            let outcome = if interrupted {
                why.outcome()
            } else {
                Outcome::Error
            };
            let message = crate::diagnostic::message_of(&e);
            ctx.record(Event::RunEnd {
                outcome,
                error: Some(message.clone()),
                duration_ms: took.as_millis() as u64,
                by_hand: ctx.summary.left_by_hand(),
            });
            super::job::report(ctx, name, outcome, again);
            let report = ctx.redact(&crate::diagnostic::report(&e, name, Some(&runtime.engine)));
            let resume_hint = match ctx.journal.path() {
                // Its record is incomplete: what the lost lines held must be checked by hand.
                Some(path) if interrupted && why == crate::cancel::Interruption::JournalLost => {
                    format!(
                        "\nthe journal {} lacks this run's last events: free space there; what this run had set was put back (above), but what it did after its last journaled step is not on record: check it by hand before the next run",
                        path.display()
                    )
                }
                Some(_) if ctx.journal.steps_done() > 0 => format!(
                    "\nto go on from here: {}",
                    ctx.redact(&again.replace("{}", ctx.journal.run_id()))
                ),
                _ => String::new(),
            };
            if interrupted {
                Err(Error::Interrupted(
                    format!("{}{resume_hint}", report.trim_end()),
                    why.exit_code(),
                ))
            } else {
                Err(Error::Script(format!("{}{resume_hint}", report.trim_end())))
            }
        }
    }
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
