//! `.ovscript/journal/<run-id>.jsonl`: one JSON object a line, flushed per line, so a crash
//! loses nothing already done and `--resume` can tell which steps finished.

use serde_json::{json, Map, Value};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::redact::Redactor;

pub mod event;
pub mod outcome;
pub use event::Event;
pub use outcome::Outcome;

pub const DIR: &str = ".ovscript/journal";

pub struct Journal {
    run_id: String,
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
    /// The descriptor that holds the journal's lock (see `create`), for recipes to inherit.
    lock_fd: Option<i32>,
    redactor: Redactor,
    /// Steps finished (or skipped as finished) so far: whether `--resume` has anything to skip.
    steps_done: std::sync::atomic::AtomicUsize,
    /// A write failed: the run is stopping.
    lost: std::sync::atomic::AtomicBool,
    /// The run's end is written: a run ends once, even when a second Ctrl-C's exit-at-once path
    /// races the run's own end (while it shares its record with the team, say).
    ended: std::sync::atomic::AtomicBool,
}

/// A warning about the journal on stderr; never panics (stderr may be a dead pipe).
fn warn(text: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {text}");
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
        // Held while this process and the recipes it starts live (they inherit it), released
        // by the kernel however they end (kill -9 included): how another process tells a run
        // that is still going from a dead one. Blocking: a reader's probe holds it for an
        // instant only.
        let locked = match file.lock() {
            Ok(()) => true,
            Err(e) => {
                warn(&format!("cannot lock the journal {} ({e}): another terminal could not tell that this run is going", path.display()));
                false
            }
        };
        #[cfg(unix)]
        let lock_fd = locked.then(|| std::os::unix::io::AsRawFd::as_raw_fd(&file));
        #[cfg(not(unix))]
        let lock_fd = None;
        Ok(Journal {
            run_id,
            path: Some(path),
            file: Mutex::new(Some(file)),
            lock_fd,
            redactor,
            steps_done: Default::default(),
            lost: Default::default(),
            ended: Default::default(),
        })
    }

    /// A journal that records nothing (used by `check` and `doc`, which run nothing).
    pub fn disabled() -> Journal {
        Journal {
            run_id: String::new(),
            path: None,
            file: Mutex::new(None),
            lock_fd: None,
            redactor: Redactor::default(),
            steps_done: Default::default(),
            lost: Default::default(),
            ended: Default::default(),
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// This run's events as written so far (none when the journal is off or cannot be read).
    pub fn events(&self) -> Vec<Event> {
        let Some(path) = &self.path else {
            return Vec::new();
        };
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The descriptor holding this run's lock, open for the journal's whole life: a recipe that
    /// inherits it keeps the run "going" while it lives, even if ovscript itself was killed.
    pub fn lock_fd(&self) -> Option<i32> {
        self.lock_fd
    }

    /// Appends `{"ts":..., "event": event, ...fields}`; secrets are redacted from every string.
    /// How many steps of this run finished (or were skipped as finished).
    pub fn steps_done(&self) -> usize {
        self.steps_done.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Appends `{"ts":..., "event": ..., ...fields}`; secrets are redacted from every string.
    pub fn record(&self, event: &Event) {
        if matches!(event, Event::RunEnd { .. })
            && self.ended.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        if event.finishes_a_step() {
            self.steps_done
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let mut line = Map::new();
        line.insert("ts".into(), json!(chrono::Utc::now().to_rfc3339()));
        if let Ok(Value::Object(fields)) = serde_json::to_value(event) {
            line.extend(fields);
        }
        let text = self.redactor.redact(&Value::Object(line).to_string());
        let failed = {
            let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            match file.as_mut() {
                Some(file) => writeln!(file, "{text}").and_then(|_| file.flush()).err(),
                None => None,
            }
        };
        // A deploy whose record is lost cannot be resumed: the run stops before its next change
        // (the recipe running now finishes), restores what it set, and says why.
        if let Some(e) = failed {
            if !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
                warn(&format!(
                    "cannot write the journal {}: {e}; stopping before the next change",
                    self.path.as_deref().unwrap_or(Path::new("")).display()
                ));
            }
            crate::cancel::process().interrupt(crate::cancel::Interruption::JournalLost);
        }
    }
}

/// Whether the run of the journal at `path` is still going: its process, or a recipe it
/// started, alive on this machine, holds the journal's lock.
pub fn is_running(path: &Path) -> bool {
    File::open(path).is_ok_and(|file| holds_lock(&file))
}

/// Takes the lock of run `run_id`'s journal for as long as this process lives: the run being
/// resumed, so that a second `--resume` of it (or a look for runs going on) sees it taken.
/// An error when a live process holds it.
pub fn hold(base: &Path, run_id: &str) -> Result<(), String> {
    let path = base.join(DIR).join(format!("{run_id}.jsonl"));
    let file = File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            // Released by the kernel when this process ends.
            std::mem::forget(file);
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(format!("run {run_id} is still going")),
        // A filesystem without locks: nothing to hold, nothing another run could see.
        Err(std::fs::TryLockError::Error(_)) => Ok(()),
    }
}

/// Whether a live process holds the journal `file` (see `Journal::create`).
fn holds_lock(file: &File) -> bool {
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
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

/// An earlier run as its journal tells it: what `--resume` and the leftovers check need.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub run_id: String,
    /// Which runbook it ran (see `runbook_id`); empty in journals older than this field.
    pub runbook: String,
    /// The script as given on the command line.
    pub script: String,
    pub sha256: String,
    pub started: String,
    pub dry_run: bool,
    pub rehearsal: bool,
    /// `ok`, `error`, `interrupted`, `usage`; `None` when the run never ended (killed).
    pub outcome: Option<Outcome>,
    /// The run it resumed, if any.
    pub resumed: Option<String>,
    /// The title of the last step it started.
    pub last_step: Option<String>,
    pub finished: Vec<FinishedStep>,
    /// DAGs it paused and did not unpause.
    pub paused_dags: Vec<String>,
    /// The deploy lock it took and did not release: the lock commit.
    pub lock: Option<String>,
    /// The recipe calls (recipe, then arguments) it, or a run it resumed, started.
    pub started_recipes: Vec<Vec<String>>,
    /// Its process is alive on this machine: it holds its journal's lock.
    pub running: bool,
    /// Whether it changed anything (a file, a DAG, a recipe, a release, a git ref, the lock):
    /// a run that changed nothing left nothing behind.
    pub changed: bool,
    /// What is wrong with the journal, if it is damaged (no start line, an unreadable line
    /// before its last): what it says cannot be gone on with.
    pub damaged: Option<String>,
    /// Its script did not compile: it ran nothing.
    pub never_started: bool,
}

impl RunRecord {
    /// Reads the journal of `run_id` under `base`. A torn last line (a crash mid-write) is
    /// skipped; other damage is noted in `damaged`.
    pub fn read(base: &Path, run_id: &str) -> Result<RunRecord, String> {
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
        let mut record = RunRecord {
            run_id: run_id.to_string(),
            running: holds_lock(&file),
            ..RunRecord::default()
        };
        let mut unreadable = None;
        let mut count = 0;
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            count = number + 1;
            match serde_json::from_str::<Value>(&line) {
                Ok(entry) => record.take(&entry),
                Err(_) => unreadable = unreadable.or(Some(number + 1)),
            }
        }
        // A torn last line (a crash mid-write) is no damage; any other unreadable line is.
        record.damaged = match unreadable {
            Some(line) if line < count => Some(format!("line {line} is not a journal line")),
            // A script that did not compile never started: nothing to go on with, no damage.
            _ if record.sha256.is_empty() && !record.never_started => {
                Some("it has no run_start line".to_string())
            }
            _ => None,
        };
        Ok(record)
    }

    fn take(&mut self, line: &Value) {
        let Ok(event) = serde_json::from_value::<Event>(line.clone()) else {
            return; // a line of an event this version spells otherwise
        };
        if event.is_change() {
            self.changed = true;
        }
        match event {
            Event::RunStart {
                script,
                runbook,
                sha256,
                dry_run,
                resumes,
                ..
            } => {
                self.runbook = runbook;
                self.script = script;
                self.sha256 = sha256;
                self.started = line["ts"].as_str().unwrap_or_default().to_string();
                self.dry_run = dry_run;
                self.resumed = resumes;
            }
            Event::Rehearsal { .. } => self.rehearsal = true,
            Event::RunEnd { outcome, .. } => self.outcome = Some(outcome),
            Event::CompileError { .. } => self.never_started = true,
            Event::StepStart { title, .. } => self.last_step = Some(title),
            Event::StepEnd {
                ordinal,
                last_ordinal,
                title,
                outcome,
                value,
                ..
            } if outcome.is_ok() => self.finish(ordinal, last_ordinal, title, value),
            Event::StepSkipped {
                ordinal,
                last_ordinal,
                title,
                value,
                ..
            } => self.finish(ordinal, last_ordinal, title, value),
            Event::AirflowPause {
                dag_id, is_paused, ..
            } => {
                self.paused_dags.retain(|d| *d != dag_id);
                if is_paused {
                    self.paused_dags.push(dag_id);
                }
            }
            // Inherited from the run it resumed, so that a second crash still knows them.
            Event::Adopted {
                paused_dags,
                lock,
                started_recipes,
                ..
            } => {
                self.started_recipes.extend(started_recipes);
                for dag in paused_dags {
                    if !self.paused_dags.contains(&dag) {
                        self.paused_dags.push(dag);
                    }
                }
                if lock.is_some() {
                    self.lock = lock;
                }
            }
            Event::JustStart { recipe, args } => {
                self.started_recipes
                    .push(std::iter::once(recipe).chain(args).collect());
            }
            Event::LockTaken { commit, .. } => self.lock = Some(commit),
            Event::LockReleased { .. } => self.lock = None,
            _ => {}
        }
    }

    fn finish(&mut self, ordinal: u64, last_ordinal: Option<u64>, title: String, value: Value) {
        self.finished.push(FinishedStep {
            ordinal,
            last_ordinal: last_ordinal.unwrap_or(ordinal),
            title,
            value,
        });
    }

    /// Whether a run of `mode` may go on from this one.
    pub fn check_mode(&self, mode: Mode) -> Result<(), String> {
        let run_id = &self.run_id;
        if self.dry_run && !mode.dry_run {
            return Err(format!("run {run_id} was a dry run: its steps changed nothing real, so none can be skipped here; run the script without --resume"));
        }
        if self.rehearsal && !mode.rehearsal {
            return Err(format!("run {run_id} was a rehearsal: its steps changed nothing real, so none can be skipped here; run the script without --resume"));
        }
        if !self.rehearsal && !self.dry_run && mode.rehearsal {
            return Err(format!(
                "run {run_id} was real: a rehearsal cannot go on from it (its world is simulated, the real one is not); drop --rehearse or --resume"
            ));
        }
        if !self.dry_run && mode.dry_run {
            return Err(format!(
                "run {run_id} was real: a dry run cannot go on from it; drop --dry-run or --resume"
            ));
        }
        Ok(())
    }

    /// Whether the run ended well, or a later run finished it.
    pub fn ended_ok(&self) -> bool {
        self.outcome == Some(Outcome::Ok)
    }

    /// The run that went on with `run_id` (`--resume`), if any.
    pub fn resumed_by(base: &Path, run_id: &str) -> Option<String> {
        std::fs::read_dir(base.join(DIR))
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".jsonl")
                    .map(String::from)
            })
            .filter(|id| id != run_id)
            .find(|id| {
                RunRecord::read(base, id).is_ok_and(|r| r.resumed.as_deref() == Some(run_id))
            })
    }

    /// The newest run of `runbook` under `base` but `except` (the asking run), of the same kind
    /// (real, rehearsal), that did not end well and that no later run resumed: what a crashed or
    /// failed deploy left behind, or one going on now.
    pub fn newest_unfinished(
        base: &Path,
        runbook: &str,
        rehearsal: bool,
        except: &str,
    ) -> Option<RunRecord> {
        let mut ids: Vec<String> = std::fs::read_dir(base.join(DIR))
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".jsonl")
                    .map(String::from)
            })
            .collect();
        ids.sort();
        // The asking run's own journal is not even probed (on NFS a probe's unlock would drop
        // the run's own lock).
        ids.retain(|id| id != except);
        let records: Vec<RunRecord> = ids
            .iter()
            .filter_map(|id| RunRecord::read(base, id).ok())
            .filter(|r| r.runbook == runbook && !r.dry_run && r.rehearsal == rehearsal)
            // A run that changed nothing (refused at a check, a usage error) left nothing; one
            // still going may change anything yet, but of two started together only the later
            // one gives way (run ids sort by start): the deploy lock decides between them.
            .filter(|r| r.changed || r.ended_ok() || (r.running && r.run_id.as_str() < except))
            .collect();
        let newest = records.last()?;
        if newest.ended_ok() {
            return None;
        }
        Some(newest.clone())
    }
}

/// Reads the steps that finished successfully in an earlier run of the same kind.
pub fn finished_steps(base: &Path, run_id: &str, mode: Mode) -> Result<Vec<FinishedStep>, String> {
    let record = RunRecord::read(base, run_id)?;
    record.check_mode(mode)?;
    Ok(record.finished)
}

/// What identifies a runbook across runs: its script's absolute path (a justfile recipe's
/// temporary file is named by the justfile and the recipe instead).
pub fn runbook_id(script: &Path) -> String {
    std::fs::canonicalize(script)
        .unwrap_or_else(|_| script.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_lines_and_finished_steps_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), Redactor::new(vec!["s3cret".into()])).unwrap();
        let step_end = |ordinal: u64, title: &str, outcome: &str, value| Event::StepEnd {
            ordinal,
            last_ordinal: None,
            label: String::new(),
            title: title.into(),
            outcome: outcome.into(),
            duration_ms: 0,
            value,
            error: None,
        };
        journal.record(&Event::StepStart {
            ordinal: 1,
            label: "[1]".into(),
            title: "one".into(),
        });
        journal.record(&step_end(1, "one", "ok", json!(3)));
        journal.record(&step_end(2, "two s3cret", "error", Value::Null));
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
    fn a_run_ends_once_whoever_writes_its_end_second() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), Redactor::default()).unwrap();
        let end = |outcome| Event::RunEnd {
            outcome,
            error: None,
            duration_ms: 1,
            by_hand: Vec::new(),
        };
        journal.record(&end(Outcome::Interrupted));
        // The exit-at-once path of a second Ctrl-C, racing the run's own end.
        journal.record(&end(Outcome::Interrupted));
        let text = std::fs::read_to_string(journal.path().unwrap()).unwrap();
        assert_eq!(text.matches("\"run_end\"").count(), 1, "{text}");
    }

    #[test]
    fn a_run_is_running_while_its_journal_is_open_and_its_recipes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), Redactor::default()).unwrap();
        let run_id = journal.run_id().to_string();
        journal.record(&Event::JustStart {
            recipe: "apply".into(),
            args: vec!["prod".into(), "catalog-airflow".into()],
        });
        let record = RunRecord::read(dir.path(), &run_id).unwrap();
        assert!(record.running);
        assert_eq!(
            record.started_recipes,
            vec![vec!["apply", "prod", "catalog-airflow"]]
        );
        assert_eq!(
            RunRecord::newest_unfinished(dir.path(), "", false, "").map(|r| r.run_id),
            Some(run_id.clone()),
            "a run going on is unfinished, changed or not"
        );
        assert_eq!(
            RunRecord::newest_unfinished(dir.path(), "", false, &run_id).map(|r| r.run_id),
            None,
            "but not to itself"
        );
        drop(journal);
        let record = RunRecord::read(dir.path(), &run_id).unwrap();
        assert!(!record.running, "the lock goes with the process's file");
    }

    #[test]
    fn a_run_going_on_counts_before_it_changed_anything_and_a_chain_keeps_its_recipes() {
        let dir = tempfile::tempdir().unwrap();
        let checking = Journal::create(dir.path(), Redactor::default()).unwrap();
        checking.record(&Event::StepStart {
            ordinal: 1,
            label: "[1]".into(),
            title: "Check that no DAGs are running".into(),
        });
        let id = checking.run_id().to_string();
        assert!(
            hold(dir.path(), &id).is_err(),
            "a live run cannot be taken over"
        );
        let later = format!("{id}~later");
        let earlier = format!("0{id}");
        assert_eq!(
            RunRecord::newest_unfinished(dir.path(), "", false, &later).map(|r| r.run_id),
            Some(id.clone()),
            "a run started later gives way to it"
        );
        assert_eq!(
            RunRecord::newest_unfinished(dir.path(), "", false, &earlier).map(|r| r.run_id),
            None,
            "a run started earlier does not: one of two goes on"
        );
        drop(checking);
        assert_eq!(
            RunRecord::newest_unfinished(dir.path(), "", false, "").map(|r| r.run_id),
            None,
            "dead, it changed nothing and left nothing"
        );

        let resuming = Journal::create(dir.path(), Redactor::default()).unwrap();
        resuming.record(&Event::Adopted {
            from: "an-earlier-run".into(),
            paused_dags: vec![],
            lock: None,
            started_recipes: vec![vec!["apply".into(), "prod".into()]],
        });
        resuming.record(&Event::JustStart {
            recipe: "bump".into(),
            args: vec!["prod".into()],
        });
        let record = RunRecord::read(dir.path(), resuming.run_id()).unwrap();
        assert_eq!(
            record.started_recipes,
            vec![vec!["apply", "prod"], vec!["bump", "prod"]]
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
