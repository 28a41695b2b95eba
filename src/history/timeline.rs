//! One run as a timeline: its steps with their durations, the questions asked and their
//! answers, every call that changed something, the files changed, the posts, the warnings and
//! errors, each at its time from the run's start. Reads (GET requests, waits) are left out but
//! for the waits themselves.

use serde_json::Value;

use super::record::Run;
use crate::journal::{Event, Outcome};

/// One moment of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Moment {
    /// Milliseconds since the run's first journal line.
    pub at_ms: i64,
    pub what: String,
}

pub fn timeline(run: &Run) -> Vec<Moment> {
    let start = run.lines.first().and_then(|l| l.ts);
    run.lines
        .iter()
        .filter_map(|line| {
            let what = describe(&line.event)?;
            let at_ms = match (start, line.ts) {
                (Some(start), Some(at)) => (at - start).num_milliseconds(),
                _ => 0,
            };
            Some(Moment { at_ms, what })
        })
        .collect()
}

/// ` (1.2s)`.
fn took(ms: u64) -> String {
    format!(
        " ({})",
        crate::ui::human(std::time::Duration::from_millis(ms))
    )
}

/// A JSON value in a sentence: a string as it is.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    }
}

/// What a journal line says, for a person; `None` for the lines that changed nothing (reads).
fn describe(event: &Event) -> Option<String> {
    let text = match event {
        Event::Rehearsal { scenario, dir } => format!("rehearsal `{scenario}` (in {})", shown(dir)),
        Event::RunStart {
            script,
            args,
            resumes,
            ..
        } => {
            let resumes = resumes
                .as_ref()
                .map(|r| format!(", going on with run {r}"))
                .unwrap_or_default();
            format!("started {script} {}{resumes}", args.join(" "))
                .trim_end()
                .to_string()
        }
        Event::Adopted { from, .. } => format!("took over what run {from} left"),
        Event::StepStart { label, title, .. } => format!("{label} {title}"),
        Event::StepEnd {
            label,
            title,
            outcome,
            duration_ms,
            error,
            ..
        } => {
            let outcome = match (outcome, error) {
                (Outcome::Ok, _) => "done".to_string(),
                (Outcome::Error, Some(error)) => format!("FAILED: {error}"),
                (other, _) => other.to_string(),
            };
            format!("{label} {title}: {outcome}{}", took(*duration_ms))
        }
        Event::StepSkipped {
            title, finished_in, ..
        } => format!("{title}: skipped, finished in run {finished_in}"),
        Event::Confirm {
            question,
            answer,
            by,
        } => {
            let answer = if *answer { "yes" } else { "no" };
            format!("asked \"{question}\": {answer} ({by})")
        }
        Event::WaitStart { what, .. } => format!("waiting for {what}"),
        Event::WaitEnd { what, outcome, .. } if outcome.is_ok() => format!("{what}: ready"),
        Event::WaitEnd { what, .. } => format!("{what}: timed out"),
        Event::Http { method, .. } if matches!(method.as_str(), "GET" | "HEAD") => return None,
        Event::Http {
            service,
            method,
            url,
            status,
            ..
        } => {
            let status = status.map_or_else(|| "no answer".to_string(), |s| s.to_string());
            format!("{service} {method} {url}: {status}")
        }
        Event::AirflowPause {
            dag_id,
            is_paused,
            intent,
        } => {
            let verb = match (is_paused, intent) {
                (true, true) => "pausing",
                (true, false) => "paused",
                (false, _) => "unpaused",
            };
            format!("{verb} the DAG {dag_id}")
        }
        Event::JustStart { recipe, args } => format!("started just {recipe} {}", args.join(" ")),
        Event::Just {
            recipe,
            args,
            code,
            interrupted,
            duration_ms,
            ..
        } => {
            let ended = match (interrupted, code) {
                (true, _) => "interrupted".to_string(),
                (false, Some(code)) => format!("exit code {code}"),
                (false, None) => "no exit code".to_string(),
            };
            format!(
                "just {recipe} {}: {ended}{}",
                args.join(" "),
                took(*duration_ms)
            )
        }
        Event::Git { args, code, .. } => {
            let code = code.map_or_else(|| "?".to_string(), |c| c.to_string());
            format!("git {}: exit code {code}", args.join(" "))
        }
        Event::FileChange {
            file,
            key,
            before,
            after,
            ..
        } => format!("changed {file}: {key} {before} -> {after}"),
        Event::GithubReleasePublished { repo, tag, .. } => {
            format!("published the release {tag} of {repo}")
        }
        Event::GithubPrApproved { repo, number } => format!("approved PR #{number} of {repo}"),
        Event::GithubWorkflowDispatched {
            repo,
            workflow,
            git_ref,
            inputs,
        } => format!("dispatched the workflow {workflow} of {repo} on {git_ref} with {inputs}"),
        Event::GithubPrOpened {
            repo,
            number,
            html_url,
        } => format!("opened PR #{number} of {repo}: {}", shown(html_url)),
        Event::LockTaken { branch, .. } => format!("took the deploy lock ({branch})"),
        Event::LockReleased { .. } => "released the deploy lock".into(),
        Event::LockBroken { run_id, .. } => format!("broke the deploy lock of run {run_id}"),
        Event::SlackPost {
            text,
            outcome,
            error,
            ..
        } => {
            let first = text.lines().next().unwrap_or_default();
            match (outcome.as_str(), error) {
                ("posted", _) => format!("posted to Slack: {first}"),
                ("failed", Some(error)) => format!("NOT posted to Slack ({error}): {first}"),
                _ => format!("not posted to Slack (no webhook): {first}"),
            }
        }
        Event::Would { what } => format!("would: {what}"),
        Event::Warning { message } => format!("warning: {message}"),
        Event::ByHand { what } => format!("left to do by hand: {what}"),
        Event::CompileError { error, .. } => format!("did not compile: {error}"),
        Event::ReplStart { .. } => "REPL session started".into(),
        Event::ReplLine { input, outcome, .. } => format!("> {input}: {outcome}"),
        Event::ReplEnd => "REPL session ended".into(),
        Event::RunEnd {
            outcome,
            error,
            duration_ms,
            ..
        } => match error {
            Some(error) => format!("ended: {outcome}: {error}{}", took(*duration_ms)),
            None => format!("ended: {outcome}{}", took(*duration_ms)),
        },
        // Which API Airflow speaks, events of a newer version: nothing a person looks for.
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(line: &str) -> Option<String> {
        describe(&serde_json::from_str::<Event>(line).unwrap())
    }

    #[test]
    fn changes_are_told_and_reads_left_out() {
        assert_eq!(
            said(
                r#"{"event": "http", "service": "github", "method": "PATCH", "url": "https://x/r/1", "status": 200, "duration_ms": 3}"#
            ),
            Some("github PATCH https://x/r/1: 200".into())
        );
        assert_eq!(
            said(
                r#"{"event": "http", "service": "github", "method": "GET", "url": "u", "duration_ms": 3}"#
            ),
            None
        );
        assert_eq!(
            said(
                r#"{"event": "confirm", "question": "Publish x?", "answer": true, "by": "--yes"}"#
            ),
            Some("asked \"Publish x?\": yes (--yes)".into())
        );
        assert_eq!(
            said(
                r#"{"event": "step_end", "ordinal": 3, "label": "[3]", "title": "Apply", "outcome": "error", "error": "boom", "duration_ms": 1500}"#
            ),
            Some("[3] Apply: FAILED: boom (1.5s)".into())
        );
        assert_eq!(
            said(
                r#"{"event": "just", "recipe": "apply", "args": ["prod", "catalog-airflow"], "code": 0, "duration_ms": 2000}"#
            ),
            Some("just apply prod catalog-airflow: exit code 0 (2.0s)".into())
        );
        assert_eq!(
            said(
                r#"{"event": "file_change", "file": "a.tf", "path": "/x/a.tf", "key": "flag", "reason": "set", "before": false, "after": true}"#
            ),
            Some("changed a.tf: flag false -> true".into())
        );
        assert_eq!(
            said(r#"{"event": "airflow_api", "api": "v1", "detected": true}"#),
            None
        );
    }
}
