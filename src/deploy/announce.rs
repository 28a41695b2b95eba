//! The team's channel is told of a production deploy by the host, whatever the runbook does:
//! who deploys which release when it starts, how it ended (done, failed with its message, or
//! interrupted), after how long, and what is left to do by hand. A post never stops a deploy
//! (see `slack`).

use rhai::{Dynamic, FnPtr, Map, NativeCallContext};
use std::time::Instant;

use super::{field, Deployment};
use crate::error::HostResult;

/// How the deployment's body ended, as the channel is told.
enum Ended {
    Done,
    Failed(String),
    Interrupted,
}

impl Deployment {
    /// Tells the channel, runs `body`, then tells how it ended; passes on `body`'s error.
    pub fn announced(
        &self,
        call: &NativeCallContext,
        tag: &str,
        body: &FnPtr,
    ) -> HostResult<Dynamic> {
        let service = &self.declared.service;
        let who = self.git.identity();
        let again = match self.ctx.earlier_run() {
            Some((earlier, true)) => format!(", going on with run {}", earlier.run_id),
            _ => String::new(),
        };
        self.slack.post(&format!(
            ":rocket: {who} is deploying {tag} to production ({service}){again}."
        ))?;
        let started = Instant::now();
        let result = body.call_within_context::<Dynamic>(call, ());
        let ended = match &result {
            Ok(_) => Ended::Done,
            Err(e) if crate::diagnostic::is_interrupt(e) => Ended::Interrupted,
            Err(e) => Ended::Failed(crate::diagnostic::message_of(e)),
        };
        let took = spoken(started.elapsed().as_secs());
        let deploy = format!("production deploy of {tag} ({service}) by {who}");
        let mut text = match ended {
            Ended::Done => format!(
                ":white_check_mark: {tag} is deployed to production ({service}) by {who}, in {took}."
            ),
            Ended::Failed(message) => format!(":x: The {deploy} failed after {took}: {message}"),
            Ended::Interrupted => format!(":warning: The {deploy} was interrupted after {took}."),
        };
        let left = self.ctx.summary.left_by_hand();
        if left.is_empty() {
            text.push_str("\nNothing is left to do by hand.");
        } else {
            text.push_str("\nLeft to do by hand:");
            for item in left {
                text.push_str(&format!("\n• {item}"));
            }
        }
        {
            // Told after Ctrl-C too: the team must know a deploy stopped half-way.
            let _hold = self.ctx.cancel.hold();
            if let Err(e) = self.slack.post(&text) {
                self.ctx.ui.warn(&format!(
                    "the team's channel was not told how the deploy ended: {}",
                    crate::diagnostic::message_of(&e)
                ));
            }
        }
        result
    }

    /// Tells the channel that production may be disrupted (`reason`) and what rollback is
    /// offered, as the written runbook asks: "consider this a Production Incident and notify the
    /// team". `stable` is the release a rollback goes to, or ().
    pub fn notify_incident(&self, stable: &Dynamic, reason: &str) -> HostResult<bool> {
        let rollback = match stable.read_lock::<Map>() {
            Some(stable) => format!(
                "a rollback to {} ({}) is offered",
                field(&stable, "rollback_tag"),
                field(&stable, "tag_name")
            ),
            None => "there is no earlier published release to roll back to".into(),
        };
        self.slack.post(&format!(
            ":rotating_light: Production {} may be disrupted: {reason}. {} is on it: {rollback}. Treat this as a production incident.",
            self.declared.service,
            self.git.identity()
        ))
    }

    /// Tells the channel that production is being rolled back to `stable`, and `how`.
    pub fn notify_rollback(&self, stable: &Map, how: &str) -> HostResult<bool> {
        self.slack.post(&format!(
            ":rewind: {} is rolling production {} back to {} ({}): {how}.",
            self.git.identity(),
            self.declared.service,
            field(stable, "rollback_tag"),
            field(stable, "tag_name")
        ))
    }
}

/// `seconds` as people say it: `45s`, `12m 5s`, `1h 3m`.
pub fn spoken(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{}h {}m", s / 3600, (s / 60) % 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_said_as_people_say_them() {
        assert_eq!(super::spoken(45), "45s");
        assert_eq!(super::spoken(725), "12m 5s");
        assert_eq!(super::spoken(3780), "1h 3m");
    }
}
