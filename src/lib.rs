//! ovscript: Openverse deployment runbooks as short Rhai scripts, with host objects for the
//! systems a deployment touches. `run` is the whole program; `main.rs` only maps it to an exit code.

pub mod actions;
pub mod airflow;
pub mod airflow_guard;
pub mod cancel;
pub mod check;
pub mod child;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod context;
pub mod deploy;
pub mod deploy_lock;
pub mod diagnostic;
pub mod doc;
pub mod embedded;
pub mod engine;
pub mod error;
pub mod fs;
pub mod git;
pub mod github;
pub mod history;
pub mod http;
pub mod journal;
pub mod just;
pub mod modules;
pub mod objects;
pub mod operator;
pub mod pty;
pub mod redact;
pub mod registry;
pub mod rehearse;
pub mod repl;
pub mod rest;
pub mod resume;
pub mod runbook_page;
pub mod script_file;
pub mod sentry;
pub mod shell;
pub mod signals;
pub mod slack;
pub mod summary;
pub mod system;
pub mod tf;
pub mod ui;
pub mod when;

/// The simulated world, a crate of its own: it knows nothing of ovscript.
pub use ovscript_world as world;

use clap::Parser;
use std::ffi::OsString;

use crate::error::Error;

/// Parses `args`, does the work, prints any error; `Err` carries the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<(), i32> {
    if let Some(message) = cli::bad_boolean_variable(cli::environment()) {
        ui::err(&format!("{message}\n"));
        return Err(error::EXIT_USAGE);
    }
    let args = cli::script_help_as_argument(args.into_iter().collect());
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Err(error::EXIT_USAGE)
            } else {
                Ok(())
            };
        }
    };
    // A bug (a panic) on the main thread unwinds it: each guard on the way runs its undo (a
    // flag restored, a DAG unpaused), then what is left (the deploy lock) is undone here, after
    // the run's last change, and the journal says the run crashed. Never exit 101.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commands::dispatch(cli)));
    let result = result.unwrap_or_else(|_| {
        crate::cancel::process().run_last_resorts();
        crate::signals::crashed();
        Err(Error::Crashed(
            "error: ovscript itself failed (a bug; its report is above): what the run had set was undone; check `ovscript log` and report it".into(),
        ))
    });
    result.map_err(|e: Error| {
        let text = e.to_string();
        if !text.is_empty() {
            ui::err(&format!("{}\n", text.trim_end()));
            if actions::active() {
                // The annotation at the script's line; the text was redacted where it was made.
                ui::out(&format!("{}\n", actions::error(&text)));
            }
        }
        e.code()
    })
}
