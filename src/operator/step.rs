//! `step` and `check_step`: numbered, timed, journaled steps, and `--resume` skipping those an
//! earlier run finished (by order and title).

use rhai::{Dynamic, EvalAltResult};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Instant;

use crate::context::Ctx;
use crate::error::HostResult;
use crate::journal::{Event, FinishedStep, Outcome};
use crate::summary::StepOutcome;

/// Steps finished in an earlier run (`--resume`), matched by order and title.
#[derive(Default)]
pub struct Resume {
    pub run_id: String,
    pub finished: Vec<FinishedStep>,
    /// The script changed since that run (`--resume-changed`): say which steps no longer line up.
    pub warn_mismatch: bool,
}

#[derive(Default)]
pub struct Steps {
    /// Every step so far, nested ones included: what `--resume` matches on.
    ordinal: u64,
    /// Numbers of the steps being run, outermost first: the label `[2.1]`.
    path: Vec<u64>,
    /// How many steps the current level has started.
    counters: Vec<u64>,
}

impl Steps {
    pub(super) fn enter(&mut self) -> (u64, String) {
        self.ordinal += 1;
        let depth = self.path.len();
        if self.counters.len() <= depth {
            self.counters.push(0);
        }
        self.counters[depth] += 1;
        self.counters.truncate(depth + 1);
        self.path.push(self.counters[depth]);
        let label = self
            .path
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        (self.ordinal, format!("[{label}]"))
    }

    pub(super) fn leave(&mut self) {
        self.path.pop();
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run_step(
    ctx: &Ctx,
    resume: &Resume,
    steps: &Mutex<Steps>,
    ordinal: u64,
    label: &str,
    title: &str,
    body: &mut dyn FnMut() -> HostResult<Dynamic>,
) -> HostResult<Dynamic> {
    if resume.warn_mismatch {
        if let Some(other) = resume
            .finished
            .iter()
            .find(|s| s.ordinal == ordinal && s.title != title)
        {
            ctx.ui.warn(&format!(
                "{label} does not line up with run {}: it was \"{}\" there, it is \"{title}\" now; it runs again",
                resume.run_id, other.title
            ));
        }
    }
    if let Some(done) = resume
        .finished
        .iter()
        .find(|s| s.ordinal == ordinal && s.title == title)
    {
        ctx.ui.step_skipped(label, title, &resume.run_id);
        ctx.summary.step(StepOutcome {
            label: label.to_string(),
            title: title.to_string(),
            outcome: Outcome::Skipped,
            took: std::time::Duration::ZERO,
        });
        // The steps nested in it are skipped with it: number the next ones as that run did.
        steps.lock().unwrap_or_else(|e| e.into_inner()).ordinal = done.last_ordinal;
        ctx.record(Event::StepSkipped {
            ordinal,
            last_ordinal: Some(done.last_ordinal),
            title: title.to_string(),
            finished_in: resume.run_id.clone(),
            value: done.value.clone(),
        });
        return Ok(rhai::serde::to_dynamic(&done.value).unwrap_or(Dynamic::UNIT));
    }
    ctx.ui.step_started(label, title);
    ctx.record(Event::StepStart {
        ordinal,
        label: label.to_string(),
        title: title.to_string(),
    });
    let started = Instant::now();
    let result = ctx.deferred.work_starts().and_then(|()| body());
    let took = started.elapsed();
    let (outcome, value, error) = match &result {
        Ok(value) => (Outcome::Ok, journal_value(value), None),
        Err(e) if matches!(**e, EvalAltResult::ErrorTerminated(..)) => {
            (Outcome::Interrupted, Value::Null, None)
        }
        Err(e) => (
            Outcome::Error,
            Value::Null,
            Some(crate::diagnostic::message_of(e)),
        ),
    };
    ctx.ui.step_finished(label, title, outcome.is_ok(), took);
    ctx.summary.step(StepOutcome {
        label: label.to_string(),
        title: title.to_string(),
        outcome,
        took,
    });
    let last_ordinal = steps.lock().unwrap_or_else(|e| e.into_inner()).ordinal;
    ctx.record(Event::StepEnd {
        ordinal,
        last_ordinal: Some(last_ordinal),
        label: label.to_string(),
        title: title.to_string(),
        outcome,
        duration_ms: took.as_millis() as u64,
        value,
        error,
    });
    result
}

/// A step's value as JSON, so a resumed run can hand it on; values JSON cannot hold become null.
pub(super) fn journal_value(value: &Dynamic) -> Value {
    rhai::serde::from_dynamic::<Value>(value).unwrap_or(Value::Null)
}
