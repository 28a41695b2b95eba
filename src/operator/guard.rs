//! `always` and `on_error`: clean-up and error handling that Rhai's try/catch cannot give (it
//! does not catch Ctrl-C), with the original error passed on, its place intact.

use rhai::{Dynamic, EvalAltResult, FnPtr, NativeCallContext};

use crate::context::Ctx;
use crate::error::HostResult;

/// Runs `body`, then `cleanup` whatever happens, then passes on body's error or value.
pub(super) fn always(
    ctx: &Ctx,
    call: &NativeCallContext,
    body: &FnPtr,
    cleanup: &FnPtr,
) -> HostResult<Dynamic> {
    // A second Ctrl-C exits at once, without running script code: say what was left undone.
    let file =
        crate::diagnostic::closure_source(cleanup.fn_name()).unwrap_or_else(|| "the script".into());
    let place = format!("{file}:{}", call.call_position().line().unwrap_or(0));
    let redactor = ctx.redactor.clone();
    let _unfinished = ctx.cancel.last_resort(move || {
        crate::ui::err(&format!(
            "{}\n",
            redactor.redact(&format!(
                "NOT DONE: the clean-up of always() at {place} did not run: do it by hand"
            ))
        ));
    });
    let result = body.call_within_context::<Dynamic>(call, ());
    let cleaned = {
        let _hold = ctx.cancel.hold();
        cleanup.call_within_context::<Dynamic>(call, ())
    };
    match (result, cleaned) {
        (Err(e), Err(cleanup_error)) => {
            ctx.ui.warn(&format!(
                "the clean-up failed too: {}",
                crate::diagnostic::message_of(&cleanup_error)
            ));
            Err(e)
        }
        (Err(e), Ok(_)) => Err(e),
        (Ok(_), Err(cleanup_error)) => Err(cleanup_error),
        (Ok(value), Ok(_)) => {
            ctx.check_cancelled()?;
            Ok(value)
        }
    }
}

/// Runs `body`; on a failure (not Ctrl-C) calls `handler` with its message, then passes it on.
pub(super) fn on_error(
    ctx: &Ctx,
    call: &NativeCallContext,
    body: &FnPtr,
    handler: &FnPtr,
) -> HostResult<Dynamic> {
    let error = match body.call_within_context::<Dynamic>(call, ()) {
        Ok(value) => return Ok(value),
        Err(e) if matches!(*e, EvalAltResult::ErrorTerminated(..)) => return Err(e),
        Err(e) => e,
    };
    let message = crate::diagnostic::message_of(&error);
    if let Err(handler_error) = handler.call_within_context::<Dynamic>(call, (message,)) {
        if matches!(*handler_error, EvalAltResult::ErrorTerminated(..)) {
            return Err(handler_error);
        }
        ctx.ui.warn(&format!(
            "handling the error failed too: {}",
            crate::diagnostic::message_of(&handler_error)
        ));
    }
    Err(error)
}
