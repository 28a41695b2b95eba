//! `wait_until`: poll a condition with a spinner and the elapsed time, sleeping between polls
//! (woken at once by Ctrl-C), on the run's clock.

use rhai::{Dynamic, FnPtr, NativeCallContext};
use std::time::{Duration, Instant};

use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::journal::{Event, Outcome};

/// The shortest pause between two polls of `wait_until` (run time).
pub(super) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

pub(super) fn wait_until(
    ctx: &Ctx,
    call: &NativeCallContext,
    what: &str,
    timeout: Duration,
    interval: Duration,
    condition: &FnPtr,
) -> HostResult<bool> {
    poll(ctx, what, timeout, interval, || {
        let value = condition.call_within_context::<Dynamic>(call, ())?;
        value.as_bool().map_err(|kind| {
            host_error(format!(
                "wait_until(\"{what}\"): the condition must return true or false, not {kind}"
            ))
        })
    })
}

/// `wait_until` for the host's own waits: `condition` polled every `interval` (at least
/// `MIN_POLL_INTERVAL`) until true, or `error::WaitTimedOut` after `timeout`.
pub fn poll(
    ctx: &Ctx,
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut condition: impl FnMut() -> HostResult<bool>,
) -> HostResult<bool> {
    let interval = interval.max(MIN_POLL_INTERVAL);
    let started = Instant::now();
    let limit = crate::ui::human(timeout);
    let spinner = ctx
        .ui
        .spinner(&format!("waiting for {what} (up to {limit})"));
    ctx.record(Event::WaitStart {
        what: what.to_string(),
        timeout_s: timeout.as_secs_f64(),
        interval_s: interval.as_secs_f64(),
    });
    loop {
        let done = condition()?;
        let elapsed = ctx.clock.elapsed(started);
        if done {
            spinner.finish();
            ctx.ui.line(&format!(
                "  {what}: ready after {}",
                crate::ui::human(elapsed)
            ));
            ctx.record(Event::WaitEnd {
                what: what.to_string(),
                outcome: Outcome::Ok,
                elapsed_s: elapsed.as_secs_f64(),
            });
            return Ok(true);
        }
        if elapsed >= timeout {
            spinner.finish();
            ctx.record(Event::WaitEnd {
                what: what.to_string(),
                outcome: Outcome::Timeout,
                elapsed_s: elapsed.as_secs_f64(),
            });
            return Err(rhai::EvalAltResult::ErrorRuntime(
                rhai::Dynamic::from(crate::error::WaitTimedOut(format!(
                    "timed out after {limit} waiting for {what}: look at why it is not ready, then run again (--resume skips the finished steps)"
                ))),
                rhai::Position::NONE,
            )
            .into());
        }
        spinner.set_message(format!(
            "waiting for {what} ({} of {limit})",
            crate::ui::human(elapsed)
        ));
        ctx.sleep(interval.min(timeout.saturating_sub(elapsed)))?;
    }
}
