//! The team's deploy history: every real run's record, from every laptop and every CI job, on
//! one branch of the infrastructure repository's origin (`ovscript-history`), where the deploy
//! lock lives too. A record is a file `runs/RUN_ID.json`; a run adds its own by a commit on the
//! branch's tip and a plain push, which git refuses if another push moved the tip meanwhile: the
//! run then fetches the new tip and tries again, so two records pushed at once both land and
//! neither replaces the other. A record that cannot be pushed (no network, no origin) waits in
//! `.ovscript/outbox/` and goes with the next run's; it never fails the deploy.
//!
//! `ovscript log --team` fetches the branch and lists the records, oldest first, with those
//! still waiting here.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::record::Run;
use crate::journal::Event;

/// The history branch of the infrastructure origin.
pub const BRANCH: &str = "ovscript-history";
/// Where the fetched tip is kept in the checkout (not a branch of it: nothing to check out).
const LOCAL_REF: &str = "refs/ovscript/history";
/// Where records wait for a push, under the working directory.
const OUTBOX: &str = ".ovscript/outbox";
/// How many times a push beaten by another one is tried again.
const ATTEMPTS: u32 = 8;

/// One run as the team sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub run: Run,
    /// The machine it ran on.
    #[serde(default)]
    pub host: String,
    /// The GitHub Actions run it was a step of (its URL), if any.
    #[serde(default)]
    pub ci: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub label: String,
    pub title: String,
    pub outcome: String,
    pub duration_ms: u64,
}

impl Record {
    /// The record of the run journaled at `journal`; `None` when it has nothing.
    pub fn of_journal(journal: &Path) -> Option<Record> {
        let run = Run::read(journal).ok()??;
        let steps = run
            .lines
            .iter()
            .filter_map(|line| match &line.event {
                Event::StepEnd {
                    label,
                    title,
                    outcome,
                    duration_ms,
                    ..
                } => Some(StepRecord {
                    label: label.clone(),
                    title: title.clone(),
                    outcome: outcome.word().to_string(),
                    duration_ms: *duration_ms,
                }),
                _ => None,
            })
            .collect();
        let ci = crate::actions::active()
            .then(|| {
                let var = |name: &str| std::env::var(name).ok();
                Some(format!(
                    "{}/{}/actions/runs/{}",
                    var("GITHUB_SERVER_URL")?,
                    var("GITHUB_REPOSITORY")?,
                    var("GITHUB_RUN_ID")?
                ))
            })
            .flatten();
        Some(Record {
            run,
            host: crate::deploy_lock::host_name(),
            ci,
            steps,
        })
    }

    /// Where it ran, as the history shows it.
    fn place(&self) -> String {
        match &self.ci {
            Some(url) => format!("CI {url}"),
            None => self.host.clone(),
        }
    }
}

/// Keeps the record of the run journaled at `journal` (under `base`) for the team, then pushes
/// every record waiting to the history branch of `infra`'s origin. Says what it could not do;
/// never fails.
pub fn share(base: &Path, infra: &Path, journal: &Path) -> Result<usize, String> {
    let Some(record) = Record::of_journal(journal) else {
        return Ok(0);
    };
    let outbox = base.join(OUTBOX);
    std::fs::create_dir_all(&outbox).map_err(|e| format!("{}: {e}", outbox.display()))?;
    let text = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
    // Written whole, then renamed: a record half-written by a crash is never pushed.
    let mut file = tempfile::NamedTempFile::new_in(&outbox).map_err(|e| e.to_string())?;
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    file.persist(outbox.join(format!("{}.json", record.run.run_id)))
        .map_err(|e| e.to_string())?;
    push_waiting(base, infra)
}

/// Pushes every record of the outbox in one commit; the pushed ones leave it.
pub fn push_waiting(base: &Path, infra: &Path) -> Result<usize, String> {
    let waiting = waiting(base);
    if waiting.is_empty() {
        return Ok(0);
    }
    let git = Git(infra.to_path_buf());
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            // Another run pushed first: a short, varied pause, then its tip is ours to build on.
            let jitter = u64::from(std::process::id() % 7) * 40;
            std::thread::sleep(std::time::Duration::from_millis(
                100 * u64::from(attempt) + jitter,
            ));
        }
        let parent = git.fetch_tip()?;
        let commit = git.commit(parent.as_deref(), &waiting)?;
        let pushed = git.run(
            &[
                "push",
                "--quiet",
                "origin",
                &format!("{commit}:refs/heads/{BRANCH}"),
            ],
            None,
        )?;
        if pushed.status.success() {
            for (path, _) in &waiting {
                let _ = std::fs::remove_file(path);
            }
            return Ok(waiting.len());
        }
        last = String::from_utf8_lossy(&pushed.stderr).trim().to_string();
    }
    Err(format!("the push was refused {ATTEMPTS} times: {last}"))
}

/// The records waiting in the outbox: their files and run ids.
fn waiting(base: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(base.join(OUTBOX)) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, String)> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let id = path
                .file_name()?
                .to_str()?
                .strip_suffix(".json")?
                .to_string();
            Some((path, id))
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// The team's records (the history branch, fetched now) and those still waiting here, oldest
/// first; the second value says what could not be read.
pub fn records(base: &Path, infra: &Path) -> (Vec<Record>, Option<String>) {
    let mut records = Vec::new();
    let git = Git(infra.to_path_buf());
    let problem = match git.fetch_tip() {
        Ok(Some(tip)) => git.read_records(&tip, &mut records).err(),
        Ok(None) => None,
        Err(e) => Some(e),
    };
    for (path, id) in waiting(base) {
        if records.iter().any(|r| r.run.run_id == id) {
            continue;
        }
        if let Some(mut record) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Record>(&text).ok())
        {
            record.run.outcome = format!("{} (not pushed yet)", record.run.outcome);
            records.push(record);
        }
    }
    records.sort_by(|a, b| {
        let at = |r: &Record| r.run.started_at();
        at(a)
            .cmp(&at(b))
            .then_with(|| a.run.run_id.cmp(&b.run.run_id))
    });
    (records, problem)
}

/// The team's history as a table (`ovscript log --team`), the place each run ran in its MODE.
pub fn table(records: &[Record]) -> String {
    let runs: Vec<Run> = records
        .iter()
        .map(|r| {
            let mut run = r.run.clone();
            run.mode = format!("{} on {}", run.mode, r.place());
            run
        })
        .collect();
    super::table(&runs)
}

/// git in the infrastructure checkout.
struct Git(PathBuf);

impl Git {
    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output, String> {
        self.run_with_index(args, input, None)
    }

    /// git with `GIT_INDEX_FILE` set to `index` when given (a commit built apart from the
    /// checkout's own index).
    fn run_with_index(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
        index: Option<&Path>,
    ) -> Result<Output, String> {
        let mut command = Command::new("git");
        if let Some(index) = index {
            command.env("GIT_INDEX_FILE", index);
        }
        command
            .args(["-c", "color.ui=never"])
            .args(args)
            .current_dir(&self.0)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("GIT_TERMINAL_PROMPT", "0");
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start git: {e}"))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(bytes).map_err(|e| format!("git: {e}"))?;
        }
        child.wait_with_output().map_err(|e| format!("git: {e}"))
    }

    /// Runs git and gives its stdout, or says what failed.
    fn text(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, String> {
        self.text_with_index(args, input, None)
    }

    fn text_with_index(
        &self,
        args: &[&str],
        input: Option<&[u8]>,
        index: Option<&Path>,
    ) -> Result<String, String> {
        let out = self.run_with_index(args, input, index)?;
        if !out.status.success() {
            return Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The history branch's tip in origin, fetched; `None` when there is no history yet.
    fn fetch_tip(&self) -> Result<Option<String>, String> {
        let listed = self.text(
            &["ls-remote", "origin", &format!("refs/heads/{BRANCH}")],
            None,
        )?;
        let Some(tip) = listed.split_whitespace().next() else {
            return Ok(None);
        };
        self.text(
            &[
                "fetch",
                "--quiet",
                "origin",
                &format!("+refs/heads/{BRANCH}:{LOCAL_REF}"),
            ],
            None,
        )?;
        Ok(Some(tip.to_string()))
    }

    /// A commit on `parent` adding the records: built in an index of its own, so the
    /// checkout's index and files are never touched.
    fn commit(
        &self,
        parent: Option<&str>,
        records: &[(PathBuf, String)],
    ) -> Result<String, String> {
        let index = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let with_index = |args: &[&str]| self.text_with_index(args, None, Some(index.path()));
        match parent {
            Some(parent) => with_index(&["read-tree", parent])?,
            None => with_index(&["read-tree", "--empty"])?,
        };
        for (path, id) in records {
            let blob = self.text(&["hash-object", "-w", "--", &path.to_string_lossy()], None)?;
            with_index(&[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{blob},runs/{id}.json"),
            ])?;
        }
        let tree = with_index(&["write-tree"])?;
        let ids: Vec<&str> = records.iter().map(|(_, id)| id.as_str()).collect();
        let message = format!("ovscript history: {}", ids.join(", "));
        let mut args = vec![
            "-c",
            "user.name=ovscript",
            "-c",
            "user.email=ovscript@localhost",
            "commit-tree",
            &tree,
            "-m",
            &message,
        ];
        if let Some(parent) = parent {
            args.extend(["-p", parent]);
        }
        self.text(&args, None)
    }

    /// Every record of the tree at `tip`.
    fn read_records(&self, tip: &str, into: &mut Vec<Record>) -> Result<(), String> {
        let names = self.text(&["ls-tree", "--name-only", tip, "runs/"], None)?;
        let wanted: String = names
            .lines()
            .filter(|n| n.ends_with(".json"))
            .map(|n| format!("{tip}:{n}\n"))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let out = self.run(&["cat-file", "--batch"], Some(wanted.as_bytes()))?;
        let bytes = out.stdout;
        let mut at = 0;
        let mut unreadable = 0;
        while at < bytes.len() {
            let Some(end) = bytes[at..].iter().position(|b| *b == b'\n') else {
                break;
            };
            let header = String::from_utf8_lossy(&bytes[at..at + end]).to_string();
            at += end + 1;
            let size: usize = match header
                .split_whitespace()
                .nth(2)
                .and_then(|s| s.parse().ok())
            {
                Some(size) => size,
                None => continue, // "missing"
            };
            let body = &bytes[at..(at + size).min(bytes.len())];
            at += size + 1;
            match serde_json::from_slice::<Record>(body) {
                Ok(record) => into.push(record),
                Err(_) => unreadable += 1,
            }
        }
        if unreadable > 0 {
            return Err(format!(
                "{unreadable} record(s) of the history could not be read"
            ));
        }
        Ok(())
    }
}
