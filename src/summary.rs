//! What a run did and what it leaves to the operator: each step's outcome and duration, and the
//! things noted with `by_hand(...)`. Printed at the end of every run, successful or not, so that
//! nothing left undone hides behind an error message or a "done".

use crate::journal::Outcome;
use std::sync::Mutex;
use std::time::Duration;

/// One step as it ended.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub label: String,
    pub title: String,
    /// `ok`, `error`, `interrupted`, `skipped`.
    pub outcome: Outcome,
    pub took: Duration,
}

#[derive(Debug, Default)]
pub struct Summary {
    steps: Mutex<Vec<StepOutcome>>,
    by_hand: Mutex<Vec<String>>,
}

impl Summary {
    pub fn step(&self, step: StepOutcome) {
        self.steps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(step);
    }

    /// Whether a step ran (not only skipped as finished by an earlier run).
    pub fn any_step_ran(&self) -> bool {
        self.steps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|s| s.outcome != Outcome::Skipped)
    }

    /// Notes something the operator must still do; the same thing noted twice is listed once.
    pub fn by_hand(&self, what: &str) {
        let mut list = self.by_hand.lock().unwrap_or_else(|e| e.into_inner());
        if !list.iter().any(|w| w == what) {
            list.push(what.to_string());
        }
    }

    /// Each step's outcome so far, in order.
    pub fn steps(&self) -> Vec<StepOutcome> {
        self.steps.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn left_by_hand(&self) -> Vec<String> {
        self.by_hand
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The summary for the operator, or nothing when the run had no step and left nothing.
    pub fn render(&self) -> String {
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let by_hand = self.left_by_hand();
        if steps.is_empty() && by_hand.is_empty() {
            return String::new();
        }
        let mut out = String::from("\nsummary:\n");
        let width = steps
            .iter()
            .map(|s| s.label.len() + 1 + s.title.chars().count())
            .max()
            .unwrap_or(0);
        for step in &steps {
            let name = format!("{} {}", step.label, step.title);
            let pad = width.saturating_sub(name.chars().count());
            out.push_str(&format!(
                "  {name}{}  {:<11} {}\n",
                " ".repeat(pad),
                step.outcome,
                crate::ui::human(step.took)
            ));
        }
        if by_hand.is_empty() {
            out.push_str("left to do by hand: nothing\n");
        } else {
            out.push_str("left to do by hand:\n");
            for item in by_hand {
                out.push_str(&format!("  - {item}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_steps_and_what_is_left_once() {
        let summary = Summary::default();
        assert_eq!(summary.render(), "");
        summary.step(StepOutcome {
            label: "[1]".into(),
            title: "Publish".into(),
            outcome: Outcome::Ok,
            took: Duration::from_millis(1200),
        });
        summary.step(StepOutcome {
            label: "[2]".into(),
            title: "Check Sentry".into(),
            outcome: Outcome::Error,
            took: Duration::from_secs(3),
        });
        summary.by_hand("approve #4242");
        summary.by_hand("approve #4242");
        let text = summary.render();
        assert!(
            text.contains("  [1] Publish       ok          1.2s\n"),
            "{text}"
        );
        assert!(
            text.contains("  [2] Check Sentry  error       3.0s\n"),
            "{text}"
        );
        assert!(
            text.ends_with("left to do by hand:\n  - approve #4242\n"),
            "{text}"
        );
    }
}
