//! One run as its journal tells it, for the deploy history: who ran which script, how, which
//! release, how it ended, how long it took and what it left to do by hand. Journals written by
//! older versions lack some fields: those are left empty, never an error.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

use crate::journal::Event;

/// One line of a journal: when, and what.
#[derive(Debug, Clone)]
pub struct Line {
    pub ts: Option<DateTime<FixedOffset>>,
    pub event: Event,
}

/// A run of the journal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    pub run_id: String,
    /// When it started (its first line), RFC 3339.
    pub started: Option<String>,
    /// Git's identity of the operator (`run_start.who`); absent in older journals.
    pub who: Option<String>,
    /// The script as it was given; `(repl)` for a REPL session.
    pub script: String,
    /// `real`, `dry run`, `rehearsal`, `dry run, rehearsal` or `repl`.
    pub mode: String,
    /// The rehearsal's scenario.
    pub scenario: Option<String>,
    /// The release tag it published (`github_release_published`).
    pub release: Option<String>,
    /// `ok`, `error`, `interrupted`, `usage`, `compile error`; `running` when the journal has
    /// no end yet and its process lives, else `killed/unfinished`.
    pub outcome: String,
    /// The error it ended with.
    pub error: Option<String>,
    /// How long it ran (`run_end`); for an unfinished run, up to its last line.
    pub duration_ms: Option<u64>,
    /// False for a run whose journal has no end (killed, or still running).
    pub finished: bool,
    /// What it left to do by hand: `run_end.by_hand`, or each `by_hand` line of a run that did
    /// not end.
    pub by_hand: Vec<String>,
    /// Line numbers of the journal that cannot be read (a line torn by a crash), skipped.
    pub damaged_lines: Vec<usize>,
    /// Every line, for the timeline.
    #[serde(skip)]
    pub lines: Vec<Line>,
}

/// The outcome of a run whose journal has no end.
pub const UNFINISHED: &str = "killed/unfinished";

/// The outcome of a run whose journal has no end yet: its process holds the journal.
pub const RUNNING: &str = "running";

impl Run {
    /// Reads the journal `path`. `None` for a journal with nothing in it.
    pub fn read(path: &Path) -> std::io::Result<Option<Run>> {
        // Asked first: a run that ends while its journal is read is not taken for a killed one.
        let running = crate::journal::is_running(path);
        let text = std::fs::read_to_string(path)?;
        let mut lines = Vec::new();
        let mut damaged_lines = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match read_line(line) {
                Some(Line {
                    event: Event::Other,
                    ..
                }) => {} // written by a newer version: read past
                Some(line) => lines.push(line),
                None => damaged_lines.push(i + 1),
            }
        }
        if lines.is_empty() && damaged_lines.is_empty() {
            return Ok(None);
        }
        let run_id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut run = Run::from_lines(run_id, lines, damaged_lines);
        if !run.finished && running {
            run.outcome = RUNNING.into();
        }
        Ok(Some(run))
    }

    fn from_lines(run_id: String, lines: Vec<Line>, damaged_lines: Vec<usize>) -> Run {
        let events = || lines.iter().map(|l| &l.event);
        let mut run = Run {
            run_id,
            started: lines.first().and_then(|l| l.ts).map(|t| t.to_rfc3339()),
            who: None,
            script: "?".into(),
            mode: String::new(),
            scenario: None,
            release: None,
            outcome: UNFINISHED.into(),
            error: None,
            duration_ms: None,
            finished: false,
            by_hand: Vec::new(),
            damaged_lines,
            lines: Vec::new(),
        };
        let (mut dry_run, mut repl, mut started, mut repl_ended) = (false, false, false, false);
        let mut noted: Vec<String> = Vec::new();
        let mut ended_by_hand = None;
        for event in events() {
            match event {
                Event::RunStart {
                    script,
                    dry_run: dry,
                    who,
                    ..
                } => {
                    started = true;
                    run.script = script.clone();
                    dry_run = *dry;
                    run.who = who.clone();
                }
                Event::ReplStart { dry_run: dry, .. } => {
                    repl = true;
                    dry_run = *dry;
                    run.script = "(repl)".into();
                }
                Event::ReplEnd => repl_ended = true,
                Event::Rehearsal { scenario, .. } => run.scenario = Some(scenario.clone()),
                Event::CompileError { script, error } if !started => {
                    run.script = script.clone();
                    run.outcome = "compile error".into();
                    run.error = Some(error.clone());
                }
                Event::GithubReleasePublished { tag, .. } => run.release = Some(tag.clone()),
                Event::ByHand { what } if !noted.contains(what) => noted.push(what.clone()),
                Event::RunEnd {
                    outcome,
                    error,
                    duration_ms,
                    by_hand,
                } => {
                    run.outcome = outcome.word().to_string();
                    run.error = error.clone();
                    run.duration_ms = Some(*duration_ms);
                    ended_by_hand = Some(by_hand.clone());
                }
                _ => {}
            }
        }
        if repl && repl_ended {
            run.outcome = "ok".into();
        }
        run.finished = run.outcome != UNFINISHED;
        run.mode = match (repl, dry_run, run.scenario.is_some()) {
            (true, _, _) => "repl",
            (_, true, true) => "dry run, rehearsal",
            (_, true, false) => "dry run",
            (_, false, true) => "rehearsal",
            (_, false, false) => "real",
        }
        .to_string();
        if run.duration_ms.is_none() {
            let first = lines.first().and_then(|l| l.ts);
            let last = lines.last().and_then(|l| l.ts);
            if let (Some(first), Some(last)) = (first, last) {
                run.duration_ms = u64::try_from((last - first).num_milliseconds()).ok();
            }
        }
        run.by_hand = ended_by_hand.unwrap_or(noted);
        run.lines = lines;
        run
    }

    /// When it started: its first line's time.
    pub fn started_at(&self) -> Option<DateTime<FixedOffset>> {
        self.lines.first().and_then(|l| l.ts)
    }

    /// When it started, as the history shows it: `2026-05-02 10:00:05 UTC`.
    pub fn started_shown(&self) -> String {
        self.started
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc().format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "-".into())
    }

    /// How long it took; a run that did not end, up to its last line, with a `+`.
    pub fn took_shown(&self) -> String {
        match self.duration_ms {
            Some(ms) => {
                let took = crate::ui::human(std::time::Duration::from_millis(ms));
                if self.finished {
                    took
                } else {
                    format!("{took}+")
                }
            }
            None => "-".into(),
        }
    }

    /// The mode, with the rehearsal's scenario.
    pub fn mode_shown(&self) -> String {
        match &self.scenario {
            Some(scenario) => format!("{} ({scenario})", self.mode),
            None => self.mode.clone(),
        }
    }
}

/// One journal line: its time and its event; `None` when it cannot be read.
fn read_line(text: &str) -> Option<Line> {
    let value: Value = serde_json::from_str(text).ok()?;
    let ts = value["ts"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let event = serde_json::from_value::<Event>(value).ok()?;
    Some(Line { ts, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Run {
        let lines = lines.iter().map(|l| read_line(l).unwrap()).collect();
        Run::from_lines("r1".into(), lines, Vec::new())
    }

    #[test]
    fn a_finished_run_is_read_from_its_start_and_end() {
        let r = run(&[
            r#"{"ts": "2026-05-02T10:00:00Z", "event": "rehearsal", "scenario": "calm", "dir": "x"}"#,
            r#"{"ts": "2026-05-02T10:00:01Z", "event": "run_start", "script": "scripts/catalog.rhai", "sha256": "h", "dry_run": false, "run_id": "r1", "who": "Ada <ada@example.org>"}"#,
            r#"{"ts": "2026-05-02T10:00:02Z", "event": "github_release_published", "repo": "o/r", "id": 1, "tag": "catalog-2026.05.02"}"#,
            r#"{"ts": "2026-05-02T10:00:09Z", "event": "run_end", "outcome": "ok", "duration_ms": 8000, "by_hand": ["merge #900"]}"#,
        ]);
        assert_eq!(r.script, "scripts/catalog.rhai");
        assert_eq!(r.mode_shown(), "rehearsal (calm)");
        assert_eq!(r.who.as_deref(), Some("Ada <ada@example.org>"));
        assert_eq!(r.release.as_deref(), Some("catalog-2026.05.02"));
        assert_eq!((r.outcome.as_str(), r.finished), ("ok", true));
        assert_eq!(r.took_shown(), "8.0s");
        assert_eq!(r.by_hand, ["merge #900"]);
        assert_eq!(r.started_shown(), "2026-05-02 10:00:00 UTC");
    }

    #[test]
    fn an_old_or_unfinished_journal_is_read_with_what_it_has() {
        // Written before `who` and `runbook`, killed before its end.
        let r = run(&[
            r#"{"ts": "2026-05-02T10:00:00Z", "event": "run_start", "script": "s.rhai", "sha256": "h", "dry_run": false, "run_id": "r1"}"#,
            r#"{"ts": "2026-05-02T10:00:30Z", "event": "by_hand", "what": "unpause x"}"#,
            r#"{"ts": "2026-05-02T10:01:00Z", "event": "by_hand", "what": "unpause x"}"#,
        ]);
        assert_eq!(r.who, None);
        assert_eq!(r.mode, "real");
        assert_eq!((r.outcome.as_str(), r.finished), (UNFINISHED, false));
        assert_eq!(r.took_shown(), "1m00s+");
        assert_eq!(r.by_hand, ["unpause x"]);
        let broken = run(&[
            r#"{"ts": "2026-05-02T10:00:00Z", "event": "compile_error", "script": "s.rhai", "error": "bad"}"#,
        ]);
        assert_eq!(broken.outcome, "compile error");
        assert_eq!(broken.error.as_deref(), Some("bad"));
        let repl = run(&[
            r#"{"ts": "2026-05-02T10:00:00Z", "event": "repl_start", "dry_run": true, "run_id": "r1"}"#,
            r#"{"ts": "2026-05-02T10:00:05Z", "event": "repl_end"}"#,
        ]);
        assert_eq!(
            (repl.script.as_str(), repl.mode.as_str()),
            ("(repl)", "repl")
        );
        assert_eq!(repl.outcome, "ok");
    }

    #[test]
    fn damaged_lines_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("20260502T100000Z-0001.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"ts":"2026-05-02T10:00:00Z","event":"run_start","script":"s.rhai","sha256":"h","dry_run":false,"run_id":"x"}"#,
                "\n",
                r#"{"ts":"2026-05-02T10:00:01Z","event":"from_a_newer_version"}"#,
                "\n",
                r#"{"ts":"2026-05-0"#,
                "\n"
            ),
        )
        .unwrap();
        let r = Run::read(&path).unwrap().unwrap();
        assert_eq!(r.run_id, "20260502T100000Z-0001");
        assert_eq!(r.damaged_lines, [3]);
        assert_eq!(r.script, "s.rhai");
        std::fs::write(&path, "").unwrap();
        assert!(Run::read(&path).unwrap().is_none());
    }
}
