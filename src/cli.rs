//! Command-line flags, parsed by clap and nothing else: the commands validate and act on them.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "ovscript",
    version,
    about = "Openverse deployment runbooks as short Rhai scripts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a runbook script against the real systems.
    Run(RunArgs),
    /// Compile scripts and the modules they import, and report calls to unknown functions and host functions called with the wrong arguments. Runs nothing.
    Check {
        /// Scripts to check; a justfile (or a folder that holds one) has its ovscript recipes checked.
        #[arg(required = true)]
        scripts: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Show every host function with its signature, help and an example.
    Doc {
        /// Only this object (`airflow`) or function (`step`, `airflow.pause`).
        name: Option<String>,
        /// The same as JSON.
        #[arg(long)]
        json: bool,
        /// The README's table of host functions, as Markdown.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Write Rhai definition files (.d.rhai) into DIR, for editors.
        #[arg(long, value_name = "DIR")]
        definitions: Option<PathBuf>,
    },
    /// Ad-hoc checks with the same objects as the runbooks, e.g. `airflow.running_dags()`.
    Repl {
        /// Say every side effect instead of making it.
        #[arg(long)]
        dry_run: bool,
        /// Answer yes to every confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Explore a simulated world (see `run --rehearse`).
        #[arg(long, value_name = "SCENARIO", num_args = 0..=1, require_equals = true, default_missing_value = "calm")]
        rehearse: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print a runbook as a person reads it, generated from its script without running it.
    Runbook {
        /// The runbook script.
        script: PathBuf,
        /// Markdown, as in docs/runbooks/ (default: text for the terminal).
        #[arg(long)]
        markdown: bool,
        #[command(flatten)]
        common: Common,
    },
    /// The deploy history: the runs of .ovscript/journal/, newest first; one run as a timeline.
    Log {
        /// Show this run (a file name in .ovscript/journal/, without .jsonl) as a timeline.
        run_id: Option<String>,
        /// The same as JSON.
        #[arg(long)]
        json: bool,
        /// The team's deploys, from every laptop and CI job: the history branch of the
        /// infrastructure repository's origin, oldest first (and this machine's records not
        /// pushed yet).
        #[arg(long, conflicts_with = "run_id")]
        team: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },

    /// `ovscript SCRIPT ARGS...`: runs a script file as `run` does (so that `#!/usr/bin/env
    /// ovscript` and just's `[script("ovscript")]` work).
    #[command(external_subcommand)]
    Script(Vec<OsString>),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook script.
    pub script: PathBuf,
    /// Say every side effect instead of making it; reads still happen.
    #[arg(long, env = "OVSCRIPT_DRY_RUN", value_parser = clap::builder::BoolishValueParser::new())]
    pub dry_run: bool,
    /// Answer yes to every confirmation.
    #[arg(long, short = 'y', env = "OVSCRIPT_YES", value_parser = clap::builder::BoolishValueParser::new())]
    pub yes: bool,
    /// Skip the steps that finished in this earlier run (see .ovscript/journal/).
    #[arg(long, value_name = "RUN_ID", env = "OVSCRIPT_RESUME")]
    pub resume: Option<String>,
    /// With --resume: go on although the script changed since that run (its steps are matched
    /// by order and title; those that no longer line up run again, and are named).
    #[arg(long, requires = "resume")]
    pub resume_changed: bool,
    /// Remove the deploy lock a dead run left in the infrastructure repository's origin (after
    /// showing who holds it and since when, once its run id is typed: --yes does not answer
    /// that), then run. Refused while that run is alive on this machine.
    #[arg(long)]
    pub break_lock: bool,
    /// Run against a simulated world on this machine: calm (default), dag-running,
    /// sensor-waiting, apply-fails, sentry-errors, airflow-down, image-late, image-missing,
    /// airflow-upgrade.
    #[arg(long, value_name = "SCENARIO", num_args = 0..=1, require_equals = true, default_missing_value = "calm", env = "OVSCRIPT_REHEARSE")]
    pub rehearse: Option<String>,
    #[command(flatten)]
    pub common: Common,
    /// Everything after the script is the script's, as `args` (`--watch=5m` included), as
    /// interpreters do; ovscript's own flags go before the script. A `--` right after the script
    /// is dropped.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Common {
    /// Configuration file [default: ./ovscript.toml if present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The variables that stand for boolean flags, checked before clap reads them so that a typo
/// (`OVSCRIPT_YES=flase`) is named as the variable it is, never taken as yes.
pub const BOOLEAN_VARIABLES: &[&str] = &["OVSCRIPT_YES", "OVSCRIPT_DRY_RUN"];

/// The environment as text: a variable that is not UTF-8 is read lossily, never a panic.
pub fn environment() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().map(|(name, value)| {
        (
            name.to_string_lossy().into_owned(),
            value.to_string_lossy().into_owned(),
        )
    })
}

/// The first boolean variable whose value is not one of the words it takes, as a message.
pub fn bad_boolean_variable(vars: impl Iterator<Item = (String, String)>) -> Option<String> {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "y", "n", "on", "off", "1", "0", "",
    ];
    vars.filter(|(name, _)| BOOLEAN_VARIABLES.contains(&name.as_str()))
        .find(|(_, value)| !WORDS.contains(&value.trim().to_ascii_lowercase().as_str()))
        .map(|(name, value)| {
            format!("error: {name}={value:?} is neither yes nor no: set it to true or false (also yes/no, on/off, 1/0), or unset it")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boolean_variable_takes_only_its_words() {
        let vars =
            |name: &str, value: &str| vec![(name.to_string(), value.to_string())].into_iter();
        assert!(bad_boolean_variable(vars("OVSCRIPT_YES", "flase"))
            .unwrap()
            .contains("OVSCRIPT_YES=\"flase\""));
        assert!(bad_boolean_variable(vars("OVSCRIPT_DRY_RUN", "2")).is_some());
        for word in ["TRUE", "no", "0", "On", ""] {
            assert_eq!(
                bad_boolean_variable(vars("OVSCRIPT_YES", word)),
                None,
                "{word}"
            );
        }
        assert_eq!(bad_boolean_variable(vars("OVSCRIPT_OTHER", "flase")), None);
    }
}

/// `ovscript run SCRIPT --help` asks the runbook for its options, not `run` for its flags: a
/// `--` goes before the script's first argument when that is `--help` or `-h` (clap would
/// take it as its own). `ovscript run --help` is still `run`'s help.
pub fn script_help_as_argument(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.get(1).is_none_or(|a| a != "run") {
        return args;
    }
    let mut at = 2;
    while let Some(arg) = args.get(at).map(|a| a.to_string_lossy().into_owned()) {
        if arg == "--" {
            break;
        }
        if arg.starts_with('-') {
            // The flags that take their value as the next word.
            at += if arg == "--resume" || arg == "--config" {
                2
            } else {
                1
            };
            continue;
        }
        if args
            .get(at + 1)
            .is_some_and(|next| next == "--help" || next == "-h")
        {
            args.insert(at + 1, "--".into());
        }
        break;
    }
    args
}

#[cfg(test)]
mod script_help_tests {
    use super::*;

    fn after(words: &[&str]) -> Vec<String> {
        let args = words.iter().map(OsString::from).collect();
        script_help_as_argument(args)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn help_after_the_script_is_the_scripts() {
        assert_eq!(
            after(&["o", "run", "s.rhai", "--help"]),
            ["o", "run", "s.rhai", "--", "--help"]
        );
        assert_eq!(
            after(&["o", "run", "--resume", "r1", "--yes", "s.rhai", "-h"]),
            ["o", "run", "--resume", "r1", "--yes", "s.rhai", "--", "-h"]
        );
        assert_eq!(after(&["o", "run", "--help"]), ["o", "run", "--help"]);
        assert_eq!(
            after(&["o", "run", "s.rhai", "--watch=1m"]),
            ["o", "run", "s.rhai", "--watch=1m"]
        );
        assert_eq!(
            after(&["o", "check", "s.rhai", "--help"]),
            ["o", "check", "s.rhai", "--help"]
        );
    }
}
