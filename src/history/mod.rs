//! `ovscript log [RUN_ID] [--json]`: the deploy history, read from the journal
//! (`.ovscript/journal/*.jsonl` under the working directory). Without a run id, every run,
//! newest first: when, who, which script, how (real, dry run, rehearsal), which release, how it
//! ended, how long it took and what it left undone. With one, that run as a timeline.
//!
//! The journal is the record: nothing else is kept. A run with no end in its journal was
//! killed (or still runs); a line that is not JSON (torn by a crash) is skipped with a warning.

mod record;
pub mod team;
mod timeline;

use serde_json::json;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::journal::DIR;

pub use record::Run;

/// Prints the history of the runs journaled under `base`, or one run's timeline.
pub fn show(base: &Path, run_id: Option<&str>, as_json: bool) -> Result<(), Error> {
    let text = match run_id {
        Some(run_id) => one(base, run_id, as_json)?,
        None => all(base, as_json)?,
    };
    crate::ui::out(&text);
    Ok(())
}

fn all(base: &Path, as_json: bool) -> Result<String, Error> {
    let runs = runs(base)?;
    if as_json {
        return Ok(format!("{}\n", to_json(&runs)));
    }
    if runs.is_empty() {
        return Ok(format!(
            "no runs in {}: runs are journaled in the working directory they are started from\n",
            base.join(DIR).display()
        ));
    }
    Ok(table(&runs))
}

/// Every run journaled under `base`, newest first (by their first line's time; run ids begin
/// with it, to the second).
pub fn runs(base: &Path) -> Result<Vec<Run>, Error> {
    let dir = base.join(DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::usage(format!(
                "cannot read the journal {}: {e}",
                dir.display()
            )))
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut runs = Vec::new();
    for file in files {
        match Run::read(&file) {
            Ok(Some(run)) => {
                warn_damaged(&file, &run);
                runs.push(run);
            }
            Ok(None) => {}
            Err(e) => {
                crate::ui::err(&format!(
                    "warning: cannot read {}: {e}; skipped\n",
                    file.display()
                ));
            }
        }
    }
    runs.sort_by_key(|r| std::cmp::Reverse((r.started_at(), r.run_id.clone())));
    Ok(runs)
}

fn warn_damaged(file: &Path, run: &Run) {
    for line in &run.damaged_lines {
        crate::ui::err(&format!(
            "warning: {}:{line}: not a journal line (torn by a crash?): skipped\n",
            file.display()
        ));
    }
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The runs as aligned columns, what each left undone below it.
pub(super) fn table(runs: &[Run]) -> String {
    let header = [
        "RUN", "STARTED", "WHO", "SCRIPT", "MODE", "RELEASE", "OUTCOME", "TOOK",
    ];
    let rows: Vec<[String; 8]> = runs
        .iter()
        .map(|r| {
            [
                r.run_id.clone(),
                r.started_shown(),
                r.who.clone().unwrap_or_else(|| "-".into()),
                r.script.clone(),
                r.mode_shown(),
                r.release.clone().unwrap_or_else(|| "-".into()),
                r.outcome.clone(),
                r.took_shown(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for (run, row) in runs.iter().zip(&rows) {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        for what in &run.by_hand {
            out.push_str(&format!("    left by hand: {what}\n"));
        }
    }
    out
}

/// One run: what it was, then its timeline.
fn one(base: &Path, run_id: &str, as_json: bool) -> Result<String, Error> {
    if run_id.is_empty() || run_id.contains(['/', '\\']) || run_id.starts_with('.') {
        return Err(Error::usage(format!(
            "`{run_id}` is not a run id: `ovscript log` lists them"
        )));
    }
    let file = base.join(DIR).join(format!("{run_id}.jsonl"));
    let run = match Run::read(&file) {
        Ok(Some(run)) => run,
        Ok(None) => {
            return Err(Error::usage(format!(
                "the journal of run {run_id} ({}) is empty",
                file.display()
            )))
        }
        Err(e) => {
            return Err(Error::usage(format!(
                "no journal for run {run_id} at {}: {e} (`ovscript log` lists the runs of this working directory)",
                file.display()
            )))
        }
    };
    warn_damaged(&file, &run);
    let moments = timeline::timeline(&run);
    if as_json {
        let value = json!({ "run": run, "timeline": moments });
        return Ok(format!("{}\n", to_json(&value)));
    }
    let mut out = format!("run {}: {}\n", run.run_id, run.script);
    let mut field = |name: &str, value: String| out.push_str(&format!("  {name:<9} {value}\n"));
    field("mode:", run.mode_shown());
    field("who:", run.who.clone().unwrap_or_else(|| "-".into()));
    field("started:", run.started_shown());
    field(
        "release:",
        run.release.clone().unwrap_or_else(|| "-".into()),
    );
    let ended = match &run.error {
        Some(error) => format!("{}: {error}", run.outcome),
        None => run.outcome.clone(),
    };
    field("outcome:", ended);
    field("took:", run.took_shown());
    if run.by_hand.is_empty() {
        field("by hand:", "nothing".into());
    } else {
        out.push_str("  left by hand:\n");
        for what in &run.by_hand {
            out.push_str(&format!("    - {what}\n"));
        }
    }
    out.push_str("\ntimeline:\n");
    for moment in &moments {
        let at = crate::ui::human(std::time::Duration::from_millis(
            u64::try_from(moment.at_ms).unwrap_or(0),
        ));
        // A post of several lines keeps them under its first.
        let what = moment.what.replace('\n', &format!("\n{}", " ".repeat(12)));
        out.push_str(&format!("  {:>8}  {what}\n", format!("+{at}")));
    }
    Ok(out)
}
