//! The commands: turn validated flags into a runtime and do the work, a command per file
//! (`run`, `repl`, `check`, `doc`); what they share (the working directory, the configuration,
//! the run's context) is here and in `setup`.

mod check;
mod doc;
mod job;
mod repl;
mod run;
mod setup;

use clap::CommandFactory;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, Common};
use crate::config::Config;
use crate::error::Error;

pub use run::{execute, Source};
pub use setup::{context, offline_runtime, Settings};

pub fn dispatch(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Script(words) => run::script(words),
        Command::Check { scripts, common } => check::check(&scripts, &common),
        Command::Doc {
            name,
            json,
            markdown,
            definitions,
        } => doc::doc(name.as_deref(), json, markdown, definitions.as_deref()),
        Command::Repl {
            dry_run,
            yes,
            rehearse,
            common,
        } => repl::repl(dry_run, yes, rehearse.as_deref(), &common),
        Command::Runbook {
            script,
            markdown,
            common,
        } => {
            let config = load_config(&common, &working_dir()?)?;
            let runtime = offline_runtime(config, script.parent())?;
            crate::runbook_page::show(&runtime, &script, markdown)
        }
        Command::Log {
            team: true,
            json,
            common,
            ..
        } => team_log(&common, json),
        Command::Log { run_id, json, .. } => {
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

/// `ovscript log --team`: the history branch of the infrastructure origin.
fn team_log(common: &Common, as_json: bool) -> Result<(), Error> {
    let base = working_dir()?;
    let config = load_config(common, &base)?;
    let infra = config.infra.dir.clone().ok_or_else(|| {
        Error::usage("the infrastructure checkout is not configured: set OVSCRIPT_INFRA_DIR or `dir` under [infra] in ovscript.toml; the team's history is a branch of its origin")
    })?;
    let infra = if infra.is_relative() {
        base.join(infra)
    } else {
        infra
    };
    let (records, problem) = crate::history::team::records(&base, &infra);
    if let Some(problem) = &problem {
        crate::ui::err(&format!(
            "warning: the team's history could not be read from origin ({problem}): what is below is only this machine's records not pushed yet\n"
        ));
    }
    let text = if as_json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        )
    } else if records.is_empty() {
        format!(
            "no deploys in the team's history yet (branch {} of the infrastructure origin)\n",
            crate::history::team::BRANCH
        )
    } else {
        crate::history::team::table(&records)
    };
    crate::ui::out(&text);
    match problem {
        Some(_) => Err(Error::Script("the team's history could not be read".into())),
        None => Ok(()),
    }
}

pub(super) fn working_dir() -> Result<PathBuf, Error> {
    std::env::current_dir()
        .map_err(|e| Error::usage(format!("cannot read the working directory: {e}")))
}

pub(super) fn load_config(common: &Common, base_dir: &Path) -> Result<Config, Error> {
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

pub(super) fn read_script(path: &Path) -> Result<String, Error> {
    crate::script_file::read(path).map_err(|e| Error::usage(format!("error: {e}")))
}
