//! Everything a journal line can say, as one typed enum: the writers, `--resume`, the leftovers
//! check and the tests all go through it, so an event's name and fields are written in one place.
//! Serialized as `{"event": "step_end", ...fields}`; fields added later have defaults, so that
//! journals written by older versions still read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Outcome;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run begins (after its script compiled and checked).
    RunStart {
        script: String,
        #[serde(default)]
        runbook: String,
        sha256: String,
        #[serde(default)]
        args: Vec<String>,
        dry_run: bool,
        run_id: String,
        #[serde(default)]
        resumes: Option<String>,
        /// Who ran it: git's identity, as the deploy lock names it.
        #[serde(default)]
        who: Option<String>,
    },
    /// The run ended: `ok`, `error`, `usage`, or what stopped it: `interrupted` (SIGINT),
    /// `terminated` (SIGTERM), `terminal-lost` (SIGHUP), `journal-lost`, `crashed` (a bug).
    RunEnd {
        outcome: Outcome,
        #[serde(default)]
        error: Option<String>,
        duration_ms: u64,
        #[serde(default)]
        by_hand: Vec<String>,
    },
    /// What the resumed run left, now this run's to put back.
    Adopted {
        from: String,
        #[serde(default)]
        paused_dags: Vec<String>,
        #[serde(default)]
        lock: Option<String>,
        /// The recipe calls (recipe, then arguments) the runs before started: production may
        /// have been touched by one of them.
        #[serde(default)]
        started_recipes: Vec<Vec<String>>,
    },
    /// A rehearsal: the scenario and where its world's record is kept.
    Rehearsal {
        scenario: String,
        dir: Value,
    },
    /// The script did not compile, or did not check: nothing ran.
    CompileError {
        script: String,
        error: String,
    },
    StepStart {
        ordinal: u64,
        #[serde(default)]
        label: String,
        title: String,
    },
    StepEnd {
        ordinal: u64,
        #[serde(default)]
        last_ordinal: Option<u64>,
        #[serde(default)]
        label: String,
        title: String,
        outcome: Outcome,
        #[serde(default)]
        duration_ms: u64,
        #[serde(default)]
        value: Value,
        #[serde(default)]
        error: Option<String>,
    },
    /// A step finished in an earlier run, skipped by `--resume`.
    StepSkipped {
        ordinal: u64,
        #[serde(default)]
        last_ordinal: Option<u64>,
        title: String,
        #[serde(default)]
        finished_in: String,
        #[serde(default)]
        value: Value,
    },
    Confirm {
        question: String,
        answer: bool,
        by: String,
    },
    Warning {
        message: String,
    },
    /// A stream the operator reads (stdout, stderr) cannot be written any more: a dead pipe, a
    /// hung-up terminal, a full disk. The run goes on; what it could not show is journaled.
    OutputLost {
        stream: String,
        error: String,
    },
    /// A line of ovscript's own the operator could not be shown.
    Unshown {
        stream: String,
        text: String,
    },
    /// Something left for the operator to do by hand.
    ByHand {
        what: String,
    },
    /// A side effect a dry run did not make.
    Would {
        what: String,
    },
    WaitStart {
        what: String,
        timeout_s: f64,
        interval_s: f64,
    },
    WaitEnd {
        what: String,
        outcome: Outcome,
        elapsed_s: f64,
    },
    /// One HTTP request: the URL without credentials, the status (none: no answer).
    Http {
        service: String,
        method: String,
        url: String,
        #[serde(default)]
        status: Option<u16>,
        duration_ms: u64,
    },
    /// The Airflow API a run speaks (`v1`, `v2`), found or forced.
    AirflowApi {
        api: String,
        detected: bool,
    },
    /// A DAG paused or unpaused; `intent` when noted before the request (a crash may follow).
    AirflowPause {
        dag_id: String,
        is_paused: bool,
        #[serde(default)]
        intent: bool,
    },
    /// A recipe is about to start.
    JustStart {
        recipe: String,
        args: Vec<String>,
    },
    /// A recipe ended: its exit code, or interrupted.
    Just {
        recipe: String,
        args: Vec<String>,
        #[serde(default)]
        code: Option<i64>,
        #[serde(default)]
        interrupted: bool,
        duration_ms: u64,
        #[serde(default)]
        captured: bool,
    },
    /// A git command that changes something.
    Git {
        args: Vec<String>,
        #[serde(default)]
        code: Option<i32>,
        duration_ms: u64,
    },
    /// One attribute of a `.tf` file, set or restored.
    FileChange {
        file: String,
        path: Value,
        key: String,
        reason: String,
        before: Value,
        after: Value,
    },
    GithubReleasePublished {
        repo: String,
        id: i64,
        tag: String,
    },
    GithubPrApproved {
        repo: String,
        number: i64,
    },
    GithubWorkflowDispatched {
        repo: String,
        workflow: String,
        #[serde(rename = "ref")]
        git_ref: String,
        inputs: Value,
    },
    GithubPrOpened {
        repo: String,
        number: i64,
        #[serde(default)]
        html_url: Value,
    },
    LockTaken {
        commit: String,
        branch: String,
    },
    LockReleased {
        commit: String,
    },
    LockBroken {
        commit: String,
        run_id: String,
    },
    /// A message posted to the team's channel (the webhook never journaled).
    SlackPost {
        text: String,
        #[serde(default)]
        outcome: String,
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        error: Option<String>,
    },
    ReplStart {
        dry_run: bool,
        run_id: String,
    },
    ReplEnd,
    /// One line the REPL evaluated.
    ReplLine {
        input: String,
        outcome: Outcome,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        duration_ms: u64,
    },
    /// A file `:load`ed in the REPL.
    ReplLoad {
        file: String,
        outcome: Outcome,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        duration_ms: u64,
    },
    /// An event this version does not know (written by a newer one): read past.
    #[serde(other)]
    Other,
}

impl Event {
    /// Whether the event changes the world: a run that has none of them left nothing behind.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Event::FileChange { .. }
                | Event::AirflowPause { .. }
                | Event::JustStart { .. }
                | Event::Git { .. }
                | Event::LockTaken { .. }
                | Event::Adopted { .. }
                | Event::GithubReleasePublished { .. }
                | Event::GithubPrApproved { .. }
                | Event::GithubWorkflowDispatched { .. }
                | Event::GithubPrOpened { .. }
        )
    }

    /// A step that finished (or was skipped as finished): what `--resume` can skip.
    pub fn finishes_a_step(&self) -> bool {
        matches!(self, Event::StepSkipped { .. })
            || matches!(self, Event::StepEnd { outcome, .. } if outcome.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_lines_and_unknown_ones_read_past() {
        let event = Event::Warning {
            message: "x".into(),
        };
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(line, r#"{"event":"warning","message":"x"}"#);
        let read: Event =
            serde_json::from_str(r#"{"ts":"t","event":"warning","message":"x"}"#).unwrap();
        assert_eq!(read, event);
        let newer: Event = serde_json::from_str(r#"{"event":"from_the_future","x":1}"#).unwrap();
        assert_eq!(newer, Event::Other);
        // An older run_start, without the fields added since.
        let old: Event = serde_json::from_str(
            r#"{"event":"run_start","script":"s","sha256":"h","dry_run":false,"run_id":"r"}"#,
        )
        .unwrap();
        assert!(matches!(old, Event::RunStart { runbook, .. } if runbook.is_empty()));
    }
}
