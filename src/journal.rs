//! `.ovscript/journal/<run-id>.jsonl`: one JSON object a line, flushed per line, so a crash
//! loses nothing already done and `--resume` can tell which steps finished.

use serde_json::{json, Map, Value};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::context::Redactor;

pub const DIR: &str = ".ovscript/journal";

pub struct Journal {
    run_id: String,
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
    redactor: Redactor,
    /// Steps finished (or skipped as finished) so far: whether `--resume` has anything to skip.
    steps_done: std::sync::atomic::AtomicUsize,
}

impl Journal {
    /// Creates the journal file of a new run under `base`.
    pub fn create(base: &Path, redactor: Redactor) -> std::io::Result<Journal> {
        let dir = base.join(DIR);
        std::fs::create_dir_all(&dir)?;
        let run_id = new_run_id();
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        Ok(Journal {
            run_id,
            path: Some(path),
            file: Mutex::new(Some(file)),
            redactor,
            steps_done: Default::default(),
        })
    }

    /// A journal that records nothing (used by `check` and `doc`, which run nothing).
    pub fn disabled() -> Journal {
        Journal {
            run_id: String::new(),
            path: None,
            file: Mutex::new(None),
            redactor: Redactor::default(),
            steps_done: Default::default(),
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends `{"ts":..., "event": event, ...fields}`; secrets are redacted from every string.
    /// How many steps of this run finished (or were skipped as finished).
    pub fn steps_done(&self) -> usize {
        self.steps_done.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn record(&self, event: &str, fields: Value) {
        if event == "step_skipped" || (event == "step_end" && fields["outcome"] == "ok") {
            self.steps_done
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let mut line = Map::new();
        line.insert("ts".into(), json!(chrono::Utc::now().to_rfc3339()));
        line.insert("event".into(), json!(event));
        if let Value::Object(fields) = fields {
            line.extend(fields);
        }
        let text = self.redactor.redact(&Value::Object(line).to_string());
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = file.as_mut() {
            // A journal write failure must not abort a deployment half-way; say it once per line.
            if let Err(e) = writeln!(file, "{text}").and_then(|_| file.flush()) {
                eprintln!("warning: cannot write the journal: {e}");
            }
        }
    }
}

fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let nanos = now.timestamp_subsec_nanos();
    format!(
        "{}-{:04x}{:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        std::process::id() & 0xffff,
        nanos & 0xffff
    )
}

/// A step that a journal shows finished: its order among the run's steps, its title and value.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedStep {
    pub ordinal: u64,
    /// The ordinal of the last step nested in it (itself when none).
    pub last_ordinal: u64,
    pub title: String,
    pub value: Value,
}

/// What kind of run wants to resume: it may only go on from a run of the same kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    pub dry_run: bool,
    pub rehearsal: bool,
}

/// Reads the steps that finished successfully in an earlier run of the same kind.
pub fn finished_steps(base: &Path, run_id: &str, mode: Mode) -> Result<Vec<FinishedStep>, String> {
    if run_id.is_empty() || run_id.contains(['/', '\\']) || run_id.starts_with('.') {
        return Err(format!("`{run_id}` is not a run id"));
    }
    let path = base.join(DIR).join(format!("{run_id}.jsonl"));
    let file = File::open(&path).map_err(|e| {
        format!(
            "no journal for run {run_id} at {}: {e} (run ids are the file names in {DIR})",
            path.display()
        )
    })?;
    let mut finished = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            continue; // a torn last line after a crash
        };
        let mismatch = match entry["event"].as_str() {
            Some("run_start") if entry["dry_run"] == true && !mode.dry_run => Some("a dry run"),
            Some("rehearsal") if !mode.rehearsal => Some("a rehearsal"),
            _ => None,
        };
        if let Some(kind) = mismatch {
            return Err(format!(
                "run {run_id} was {kind}: its steps changed nothing real, so none can be skipped here; run the script without --resume"
            ));
        }
        if entry["event"] == "run_start" && entry["dry_run"] == false && mode.dry_run {
            return Err(format!(
                "run {run_id} was real: a dry run cannot go on from it; drop --dry-run or --resume"
            ));
        }
        let finished_ok = match entry["event"].as_str() {
            Some("step_end") => entry["outcome"] == "ok",
            Some("step_skipped") => true,
            _ => false,
        };
        if let (true, Some(ordinal), Some(title)) = (
            finished_ok,
            entry["ordinal"].as_u64(),
            entry["title"].as_str(),
        ) {
            finished.push(FinishedStep {
                ordinal,
                last_ordinal: entry["last_ordinal"].as_u64().unwrap_or(ordinal),
                title: title.to_string(),
                value: entry.get("value").cloned().unwrap_or(Value::Null),
            });
        }
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_lines_and_finished_steps_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), Redactor::new(vec!["s3cret".into()])).unwrap();
        journal.record("step_start", json!({"ordinal": 1, "title": "one"}));
        journal.record(
            "step_end",
            json!({"ordinal": 1, "title": "one", "outcome": "ok", "value": 3}),
        );
        journal.record(
            "step_end",
            json!({"ordinal": 2, "title": "two s3cret", "outcome": "error"}),
        );
        let text = std::fs::read_to_string(journal.path().unwrap()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(!text.contains("s3cret"));
        let finished = finished_steps(dir.path(), journal.run_id(), Mode::default()).unwrap();
        assert_eq!(
            finished,
            vec![FinishedStep {
                ordinal: 1,
                last_ordinal: 1,
                title: "one".into(),
                value: json!(3)
            }]
        );
    }

    #[test]
    fn a_bad_run_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(finished_steps(dir.path(), "../x", Mode::default()).is_err());
        assert!(finished_steps(dir.path(), "nope", Mode::default())
            .unwrap_err()
            .contains("no journal"));
    }
}
