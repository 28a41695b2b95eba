//! The history file: where it lives, and the lines never written to it (a secret).

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;
use std::path::PathBuf;

use super::*;

/// The history file, `$XDG_STATE_HOME/ovscript/history` (`~/.local/state/ovscript/history`).
pub(super) struct History {
    pub(super) file: Option<PathBuf>,
}

impl History {
    pub(super) fn open(
        editor: &mut Editor<LineHelper, FileHistory>,
        ctx: &crate::context::Ctx,
    ) -> History {
        let file = history_file(
            std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        );
        let Some(file) = file else {
            return History { file: None };
        };
        if let Some(dir) = file.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                ctx.ui
                    .warn(&format!("no history: cannot create {}: {e}", dir.display()));
                return History { file: None };
            }
        }
        match editor.load_history(&file) {
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => ctx
                .ui
                .warn(&format!("cannot read the history {}: {e}", file.display())),
            Ok(()) => {}
        }
        History { file: Some(file) }
    }

    /// Adds the input and writes it at once, so that a session that is killed keeps it too. A line
    /// holding a configured secret is never written down.
    pub(super) fn remember(
        &mut self,
        editor: &mut Editor<LineHelper, FileHistory>,
        input: &str,
        ctx: &crate::context::Ctx,
    ) {
        if input.trim().is_empty() || ctx.redact(input) != input {
            return;
        }
        if !editor.add_history_entry(input).unwrap_or(false) {
            return;
        }
        if let Some(file) = &self.file {
            if let Err(e) = editor.append_history(file) {
                ctx.ui.warn(&format!(
                    "history off: cannot write {}: {e}",
                    file.display()
                ));
                self.file = None;
            }
        }
    }
}

/// XDG: a relative `XDG_STATE_HOME` is to be ignored.
pub(super) fn history_file(state_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    let state = state_home.filter(|dir| dir.is_absolute()).or_else(|| {
        home.filter(|dir| !dir.as_os_str().is_empty())
            .map(|home| home.join(".local").join("state"))
    })?;
    Some(state.join("ovscript").join("history"))
}
