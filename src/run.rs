//! The commands: turn validated flags into a runtime and do the work.

use clap::{CommandFactory, Parser};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cli::{Cli, Command, Common, RunArgs};
use crate::config::Config;
use crate::context::{Clock, Context, Ctx};
use crate::embedded::Embedded;
use crate::engine::Runtime;
use crate::error::Error;
use crate::journal::{self, Event, Journal};
use crate::operator::Resume;
use crate::redact::Redactor;
use crate::ui::Ui;

pub fn dispatch(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Script(words) => script(words),
        Command::Check { scripts, common } => check(&scripts, &common),
        Command::Doc {
            name,
            json,
            markdown,
            definitions,
        } => doc(name.as_deref(), json, markdown, definitions.as_deref()),
        Command::Repl {
            dry_run,
            yes,
            rehearse,
            common,
        } => repl(dry_run, yes, rehearse.as_deref(), &common),
        Command::Runbook {
            script,
            markdown,
            common,
        } => {
            let config = load_config(&common, &working_dir()?)?;
            let runtime = offline_runtime(config, script.parent())?;
            crate::runbook_page::show(&runtime, &script, markdown)
        }
        Command::Log { run_id, json } => {
            crate::history::show(&working_dir()?, run_id.as_deref(), json)
        }
        Command::Completions { shell } => {
            // Written whole, then printed: a closed stdout is an error, never a panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ovscript", &mut script);
            crate::ui::out(&String::from_utf8_lossy(&script));
            Ok(())
        }
    }
}

fn working_dir() -> Result<PathBuf, Error> {
    std::env::current_dir()
        .map_err(|e| Error::usage(format!("cannot read the working directory: {e}")))
}

/// How a context is made: from flags for `run`, with nothing live for `check` and `doc`.
pub struct Settings {
    pub config: Config,
    pub dry_run: bool,
    pub yes: bool,
    pub clock: Clock,
    pub journal: bool,
    pub runbook: String,
    pub rehearsal: bool,
    pub resumed: Option<journal::RunRecord>,
}

impl Settings {
    /// Nothing live, nothing journaled: for `check`, `doc`, completion.
    pub fn offline(config: Config) -> Settings {
        Settings {
            config,
            dry_run: true,
            yes: false,
            clock: Clock::default(),
            journal: false,
            runbook: String::new(),
            rehearsal: false,
            resumed: None,
        }
    }
}

pub fn context(settings: Settings, base_dir: PathBuf) -> Result<Ctx, Error> {
    let redactor = Redactor::new(settings.config.secrets());
    let journal = if settings.journal {
        Journal::create(&base_dir, redactor.clone()).map_err(|e| {
            Error::usage(format!(
                "cannot create the journal under {}: {e}",
                base_dir.join(journal::DIR).display()
            ))
        })?
    } else {
        Journal::disabled()
    };
    let journal = Arc::new(journal);
    if settings.journal {
        crate::signals::journal_run(journal.clone());
    }
    Ok(Arc::new(Context {
        config: settings.config,
        dry_run: settings.dry_run,
        yes: settings.yes,
        journal: journal.clone(),
        ui: Ui::new(redactor.clone(), Some(journal)),
        cancel: crate::signals::cancel(),
        clock: settings.clock,
        base_dir,
        redactor,
        summary: Default::default(),
        runbook: settings.runbook,
        rehearsal: settings.rehearsal,
        resumed: settings.resumed,
        at_end: Default::default(),
        guards: Default::default(),
        deferred: Default::default(),
    }))
}

fn load_config(common: &Common, base_dir: &Path) -> Result<Config, Error> {
    let config = Config::load(
        common.config.as_deref(),
        base_dir,
        crate::cli::environment(),
    )?;
    for key in config.weak_secrets() {
        crate::ui::err(&format!(
            "warning: {key} is shorter than {} characters: too weak to hide in every output (it is hidden where it stands as a word of its own); use a longer one\n",
            crate::redact::WEAK_BELOW
        ));
    }
    Ok(config)
}

fn read_script(path: &Path) -> Result<String, Error> {
    crate::script_file::read(path).map_err(|e| Error::usage(format!("error: {e}")))
}

/// `ovscript SCRIPT ARGS...`: a script file run as `ovscript run SCRIPT ARGS...` (a shebang, a
/// just `[script("ovscript")]` recipe); any other first word is a usage error.
fn script(words: Vec<std::ffi::OsString>) -> Result<(), Error> {
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

fn run(mut args: RunArgs) -> Result<(), Error> {
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

/// Starts the simulated world of `--rehearse=SCENARIO` and points `config` at it.
fn start_rehearsal(
    scenario: Option<&str>,
    base_dir: &Path,
    config: &mut Config,
) -> Result<Option<crate::rehearse::Rehearsal>, Error> {
    let Some(name) = scenario else {
        return Ok(None);
    };
    let scenario = crate::rehearse::parse_scenario(name)?;
    // The operator's real secrets stay redacted although the world's replace them.
    let real_secrets = config.secrets();
    config.kept_secrets.extend(real_secrets);
    let id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    );
    let dir = base_dir.join(".ovscript/rehearsals").join(id);
    crate::rehearse::Rehearsal::start(scenario, dir, config).map(Some)
}

/// A rehearsal's waits run on a fast clock.
fn clock_for(rehearsal: &Option<crate::rehearse::Rehearsal>) -> Clock {
    match rehearsal {
        Some(_) => Clock::fast(crate::rehearse::CLOCK_SPEED),
        None => Clock::default(),
    }
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
    let journal_note = ctx
        .journal
        .path()
        .map(|p| format!(" (journal: {})", p.display()))
        .unwrap_or_default();
    match result {
        Ok(_) => {
            ctx.record(Event::RunEnd {
                outcome: "ok".into(),
                error: None,
                duration_ms: took.as_millis() as u64,
                by_hand: ctx.summary.left_by_hand(),
            });
            ctx.ui
                .line(&format!("done in {}{journal_note}", crate::ui::human(took)));
            Ok(())
        }
        // Exit 2 says "nothing ran": only before the first step. Later, the run failed.
        Err(e) if crate::diagnostic::is_usage(&e) && !ctx.summary.any_step_ran() => {
            let message = crate::diagnostic::message_of(&e);
            ctx.record(Event::RunEnd {
                outcome: "usage".into(),
                error: Some(message.clone()),
                duration_ms: took.as_millis() as u64,
                by_hand: Vec::new(),
            });
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
            let outcome = if interrupted { why.outcome() } else { "error" };
            let message = crate::diagnostic::message_of(&e);
            ctx.record(Event::RunEnd {
                outcome: outcome.into(),
                error: Some(message.clone()),
                duration_ms: took.as_millis() as u64,
                by_hand: ctx.summary.left_by_hand(),
            });
            let report = ctx.redact(&crate::diagnostic::report(&e, &name, Some(&runtime.engine)));
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

/// A runtime that runs nothing live: for `check`, `doc`, completion.
pub fn offline_runtime(config: Config, script_dir: Option<&Path>) -> Result<Runtime, Error> {
    let settings = Settings::offline(config);
    let ctx = context(settings, working_dir()?)?;
    Ok(Runtime::new(ctx, Resume::default(), script_dir, Vec::new()))
}

fn repl(dry_run: bool, yes: bool, rehearse: Option<&str>, common: &Common) -> Result<(), Error> {
    let base_dir = working_dir()?;
    let mut config = load_config(common, &base_dir)?;
    // Kept for the whole session: the simulated world stops when it is dropped.
    let rehearsal = start_rehearsal(rehearse, &base_dir, &mut config)?;
    let settings = Settings {
        config,
        dry_run,
        yes,
        clock: clock_for(&rehearsal),
        journal: true,
        runbook: String::new(),
        rehearsal: rehearsal.is_some(),
        resumed: None,
    };
    let ctx = context(settings, base_dir.clone())?;
    if let Some(rehearsal) = &rehearsal {
        ctx.ui.line(&format!(
            "rehearsal `{}`: a simulated world on this machine",
            rehearsal.scenario
        ));
    }
    let runtime = Runtime::new(ctx, Resume::default(), Some(&base_dir), Vec::new());
    let result = crate::repl::start(runtime);
    drop(rehearsal);
    result
}

fn check(scripts: &[PathBuf], common: &Common) -> Result<(), Error> {
    let base_dir = working_dir()?;
    let config = load_config(common, &base_dir)?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for script in scripts {
        if let Some(justfile) = justfile_of(script) {
            let (count, found) = check_justfile(&config, &justfile)?;
            checked += count;
            problems.extend(found);
            continue;
        }
        let runtime = offline_runtime(config.clone(), script.parent())?;
        problems.extend(crate::check::check_file(&runtime, script));
        checked += 1;
    }
    if problems.is_empty() {
        crate::ui::out(&format!("ok: {checked} script(s) checked\n"));
        Ok(())
    } else {
        Err(Error::Compile(format!(
            "{}\n{} problem(s) found",
            problems.join("\n"),
            problems.len()
        )))
    }
}

/// The justfile `path` is, or holds (a folder).
fn justfile_of(path: &Path) -> Option<PathBuf> {
    let named = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| crate::embedded::JUSTFILE_NAMES.contains(&n))
    };
    if path.is_dir() {
        return crate::embedded::JUSTFILE_NAMES
            .iter()
            .map(|n| path.join(n))
            .find(|p| p.is_file());
    }
    named(path).then(|| path.to_path_buf())
}

/// Checks each recipe of `justfile` that ovscript runs, at its justfile lines; recipes in other
/// languages are left alone. Returns how many were checked and the problems.
fn check_justfile(config: &Config, justfile: &Path) -> Result<(usize, Vec<String>), Error> {
    let recipes = crate::embedded::recipes_to_check(justfile).map_err(Error::usage)?;
    let mut problems = Vec::new();
    for recipe in &recipes {
        // Each recipe at its own file: the justfile, or a file it imports or a module's.
        let name = recipe.file.display().to_string();
        let dir = recipe
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        crate::diagnostic::label_source(&name, &format!(" (recipe {})", recipe.name));
        let runtime = offline_runtime(config.clone(), Some(&dir))?;
        let text = &recipe.text;
        match runtime.compile(&name, text) {
            Ok(ast) => problems.extend(crate::check::check_compiled(&runtime, &name, &ast)),
            Err(e) => problems.push(
                crate::diagnostic::parse_report(&e, &name)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string(),
            ),
        }
    }
    Ok((recipes.len(), problems))
}

fn doc(
    name: Option<&str>,
    as_json: bool,
    markdown: bool,
    definitions: Option<&Path>,
) -> Result<(), Error> {
    let runtime = offline_runtime(Config::default(), None)?;
    if let Some(dir) = definitions {
        crate::doc::write_definitions(&runtime, dir)?;
        crate::ui::out(&format!("wrote Rhai definitions to {}\n", dir.display()));
        return Ok(());
    }
    let functions = crate::doc::host_functions(&runtime);
    if markdown {
        crate::ui::out(&crate::doc::markdown_table(&functions));
        return Ok(());
    }
    if as_json {
        let selected = crate::doc::select(&functions, name)?;
        let json = serde_json::to_string_pretty(&selected).unwrap_or_default();
        crate::ui::out(&format!("{json}\n"));
        return Ok(());
    }
    crate::ui::out(&crate::doc::render(&functions, name)?);
    Ok(())
}
