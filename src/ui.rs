//! What the operator sees. Step lines with their state and duration, a spinner while waiting;
//! plain lines when stdout is not a terminal (readable CI logs); no colour under `NO_COLOR`.
//! Every line passes through the redactor: a secret never reaches the terminal.
//!
//! Output can fail (`| tee` killed by the same Ctrl-C, a hung-up terminal, a full disk); the
//! deploy does not: no write here panics, what could not be shown is journaled, and a terminal
//! that answers EIO is a lost terminal, which stops the run safely.

use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::journal::{Event, Journal};
use crate::redact::Redactor;

pub struct Ui {
    fancy: bool,
    /// In a GitHub Actions job: steps are log groups, warnings are annotations.
    actions: bool,
    /// How deep in steps the run is: only a top step is a log group (groups do not nest).
    depth: std::sync::atomic::AtomicUsize,
    redactor: Redactor,
    /// Where a line that could not be shown still goes.
    journal: Option<Arc<Journal>>,
}

impl Ui {
    pub fn new(redactor: Redactor, journal: Option<Arc<Journal>>) -> Ui {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            console::set_colors_enabled(false);
            console::set_colors_enabled_stderr(false);
        }
        Ui {
            fancy: std::io::stdout().is_terminal(),
            actions: crate::actions::active(),
            depth: Default::default(),
            redactor,
            journal,
        }
    }

    pub fn line(&self, text: &str) {
        let text = self.redactor.redact(text);
        if !out(&format!("{text}\n")) {
            self.unshown(Stream::Out, &text);
        }
    }

    pub fn info(&self, text: &str) {
        self.line(text);
    }

    /// A line about the run itself ("done in 3m (journal: ...)"): stderr, so that a script's
    /// own output can be piped.
    pub fn status(&self, text: &str) {
        let text = self.redactor.redact(text);
        if !err(&format!("{text}\n")) {
            self.unshown(Stream::Err, &text);
        }
    }

    pub fn warn(&self, text: &str) {
        let text = self.redactor.redact(text);
        if self.actions {
            // An annotation on the job, and a line of its log.
            if !out(&format!("{}\n", crate::actions::warning(&text))) {
                self.unshown(Stream::Out, &format!("warning: {text}"));
            }
            return;
        }
        if !err(&format!("{} {text}\n", style("warning:").yellow().bold())) {
            self.unshown(Stream::Err, &format!("warning: {text}"));
        }
    }

    /// A line for standard error (a notice about the run, not its output).
    pub fn notice(&self, text: &str) {
        let text = self.redactor.redact(text);
        if !err(&format!("{text}\n")) {
            self.unshown(Stream::Err, &text);
        }
    }

    pub fn would(&self, text: &str) {
        let text = self.redactor.redact(text);
        if !out(&format!("{} {text}\n", style("would:").cyan().bold())) {
            self.unshown(Stream::Out, &format!("would: {text}"));
        }
    }

    /// Journals a line the operator could not be shown: the record keeps what the screen lost.
    fn unshown(&self, stream: Stream, text: &str) {
        if let Some(journal) = &self.journal {
            if let Some(error) = stream.failure().take() {
                journal.record(&Event::OutputLost {
                    stream: stream.name().to_string(),
                    error,
                });
            }
            journal.record(&Event::Unshown {
                stream: stream.name().to_string(),
                text: console::strip_ansi_codes(text).into_owned(),
            });
        }
    }

    pub fn step_started(&self, label: &str, title: &str) {
        if self.actions && self.depth.fetch_add(1, Ordering::SeqCst) == 0 {
            self.raw(&crate::actions::group(&format!("{label} {title}")));
        }
        let arrow = if self.fancy { "▶" } else { "==>" };
        self.line(&format!(
            "{} {} {}",
            style(arrow).blue().bold(),
            style(label).bold(),
            title
        ));
    }

    pub fn step_finished(&self, label: &str, title: &str, ok: bool, took: Duration) {
        let (mark, state) = match (ok, self.fancy) {
            (true, true) => (style("✔").green().bold(), style("done").green()),
            (true, false) => (style("ok").green().bold(), style("done").green()),
            (false, true) => (style("✘").red().bold(), style("failed").red()),
            (false, false) => (style("FAILED").red().bold(), style("failed").red()),
        };
        self.line(&format!(
            "{mark} {} {title}: {state} ({})",
            style(label).bold(),
            human(took)
        ));
        if self.actions && self.depth.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.raw(crate::actions::end_group());
        }
    }

    /// A workflow command, redacted like any line.
    fn raw(&self, command: &str) {
        let command = self.redactor.redact(command);
        if !out(&format!("{command}\n")) {
            self.unshown(Stream::Out, &command);
        }
    }

    pub fn step_skipped(&self, label: &str, title: &str, run_id: &str) {
        let mark = if self.fancy { "↷" } else { "skip" };
        self.line(&format!(
            "{} {} {title}: skipped, finished in run {run_id}",
            style(mark).dim(),
            style(label).bold()
        ));
    }

    /// A spinner with the elapsed time on a terminal; one start line otherwise.
    pub fn spinner(&self, message: &str) -> Spinner {
        let message = self.redactor.redact(message);
        if !self.fancy {
            out(&format!("... {message}\n"));
            return Spinner { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner { bar: Some(bar) }
    }
}

pub struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    pub fn set_message(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Standard output or standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Out => "stdout",
            Stream::Err => "stderr",
        }
    }

    /// Set once a write to this stream failed.
    fn broken(self) -> &'static AtomicBool {
        static OUT: AtomicBool = AtomicBool::new(false);
        static ERR: AtomicBool = AtomicBool::new(false);
        match self {
            Stream::Out => &OUT,
            Stream::Err => &ERR,
        }
    }

    /// The first failure of this stream, until a run's journal took it.
    fn failure(self) -> std::sync::MutexGuard<'static, Option<String>> {
        static OUT: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        static ERR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        let slot = match self {
            Stream::Out => &OUT,
            Stream::Err => &ERR,
        };
        slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes to stdout, flushed; false when it could not be written. A closed stdout (`ovscript run
/// ... | head`) must not panic: the run goes on so that its clean-up (a flag restored, a DAG
/// unpaused) still happens.
pub fn out(text: &str) -> bool {
    write(Stream::Out, text.as_bytes())
}

/// Writes to stderr, flushed; false when it could not be written. Never panics.
pub fn err(text: &str) -> bool {
    write(Stream::Err, text.as_bytes())
}

/// Writes `bytes` to `stream`, flushed, and never panics. The first failure of a stream is kept
/// for the journal; an EIO means the terminal is gone (an SSH session dropped), maybe before its
/// SIGHUP arrives: the run is stopped as for a hangup.
pub fn write(stream: Stream, bytes: &[u8]) -> bool {
    use std::io::Write;
    let result = match stream {
        Stream::Out => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|_| out.flush())
        }
        Stream::Err => {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes).and_then(|_| err.flush())
        }
    };
    let Err(error) = result else {
        return true;
    };
    if !stream.broken().swap(true, Ordering::SeqCst) {
        *stream.failure() = Some(error.to_string());
    }
    if error.raw_os_error() == Some(libc::EIO) {
        crate::cancel::process().interrupt(crate::cancel::Interruption::TerminalLost);
    }
    false
}

/// `1.2s`, `3m04s`, `1h02m`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// An array of maps as an aligned text table: a header of the keys (the union over all rows, in
/// first-seen order, unless `columns` names them), one line per row. Other values are one per line.
pub fn table(rows: &[rhai::Dynamic], columns: Option<&[String]>) -> String {
    let maps: Vec<rhai::Map> = rows
        .iter()
        .filter_map(|r| r.clone().try_cast::<rhai::Map>())
        .collect();
    if maps.len() != rows.len() || rows.is_empty() {
        return rows.iter().map(|r| format!("{r}\n")).collect();
    }
    let columns: Vec<String> = match columns {
        Some(columns) => columns.to_vec(),
        None => {
            let mut seen: Vec<String> = Vec::new();
            for key in maps.iter().flat_map(|m| m.keys()) {
                if !seen.iter().any(|s| s == key.as_str()) {
                    seen.push(key.to_string());
                }
            }
            seen
        }
    };
    let cells: Vec<Vec<String>> = maps
        .iter()
        .map(|m| {
            columns
                .iter()
                .map(|c| m.get(c.as_str()).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: &[String]| -> String {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&columns);
    out.push_str(&line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

/// A value as one table cell: strings without quotes, `()` empty, newlines folded.
fn cell(value: &rhai::Dynamic) -> String {
    if value.is_unit() {
        return String::new();
    }
    value.to_string().replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_aligns_the_union_of_keys() {
        let mut a = rhai::Map::new();
        a.insert("dag_id".into(), "flickr_workflow".into());
        a.insert("state".into(), "running".into());
        let mut b = rhai::Map::new();
        b.insert("dag_id".into(), "x".into());
        b.insert("note".into(), rhai::Dynamic::UNIT);
        let text = table(&[a.into(), b.into()], None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "dag_id           state    note");
        assert_eq!(lines[2], "flickr_workflow  running");
        assert_eq!(lines[3], "x");
    }
}
