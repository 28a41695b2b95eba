//! `airflow.while_paused(dags, body)`: what the host paused, the host unpauses. Script-level
//! clean-up cannot run when a second Ctrl-C or SIGTERM ends the process at once; this guard's
//! undo is a last resort of the host, so the DAGs are unpaused then too. A run resumed after a
//! crash adopts the DAGs the dead run paused, and unpauses them at its end.

use rhai::{Array, Dynamic, Engine, FnPtr, NativeCallContext};
use std::sync::{Arc, Mutex};

use crate::airflow::Airflow;
use crate::error::{host_error, HostResult};
use crate::journal::Event;

pub fn register(engine: &mut Engine) {
    engine.register_global_module(rhai::exported_module!(airflow_guard_api).into());
}

/// `airflow.while_paused(...)`; its doc comment is its documentation everywhere.
#[rhai::plugin::export_module]
mod airflow_guard_api {
    use super::*;

    /// Pauses these DAGs (those not paused already), runs `body`, then unpauses the DAGs it paused
    /// whatever happens: an error, Ctrl-C, even a second Ctrl-C or SIGTERM. On `--resume` it also
    /// unpauses the DAGs the resumed run paused, and pauses only when a step of `body` that is not
    /// done yet starts (or a recipe): a body whose steps are all done pauses nothing. Returns what
    /// `body` returns.
    ///
    /// ```rhai
    /// airflow.while_paused(["image_data_refresh"], || just("apply", "prod", "catalog-airflow"));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn while_paused(
        call: NativeCallContext,
        airflow: Airflow,
        dags: Array,
        body: FnPtr,
    ) -> HostResult<Dynamic> {
        let dags = dag_ids(dags)?;
        super::while_paused(&airflow, dags, || body.call_within_context(&call, ()))
    }
}

/// The DAG ids a script gave, as text.
fn dag_ids(dags: Array) -> HostResult<Vec<String>> {
    dags.into_iter()
        .map(|dag| {
            dag.into_immutable_string()
                .map(|d| d.to_string())
                .map_err(|kind| {
                    host_error(format!(
                        "airflow.while_paused: the DAGs are ids (strings), not {kind}"
                    ))
                })
        })
        .collect()
}

/// `airflow.while_paused`, for a script's closure or the host's own work (a local rollback).
pub fn while_paused(
    airflow: &Airflow,
    dags: Vec<String>,
    body: impl FnOnce() -> HostResult<Dynamic>,
) -> HostResult<Dynamic> {
    let ctx = airflow.ctx().clone();
    // Ours to unpause: what the resumed run paused and is still paused, then what we pause.
    let paused_here: Arc<Mutex<Vec<String>>> = Arc::default();
    if let Some(resumed) = &ctx.resumed {
        for dag in &resumed.paused_dags {
            if airflow.is_paused(dag)? {
                ctx.ui.info(&format!(
                    "{dag} was paused by run {}: it will be unpaused at the end",
                    resumed.run_id
                ));
                paused_here
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(dag.clone());
            }
        }
    }
    let undo = {
        let (airflow, paused) = (airflow.clone(), paused_here.clone());
        ctx.cancel.last_resort(move || {
            // The process is about to exit: the unpause must not be cut short by Ctrl-C.
            let _hold = airflow.ctx().cancel.hold();
            for dag in paused.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let line = match airflow.set_paused(dag, false) {
                    Ok(_) => format!("unpaused {dag}"),
                    Err(e) => format!(
                        "NOT DONE: {dag} is STILL PAUSED: unpause it in Airflow ({})",
                        crate::diagnostic::message_of(&e)
                    ),
                };
                crate::ui::err(&format!("{}\n", airflow.ctx().redact(&line)));
            }
        })
    };
    let pause_all = {
        let (airflow, paused_here, ctx) = (airflow.clone(), paused_here.clone(), ctx.clone());
        move || -> HostResult<()> {
            for dag in &dags {
                if paused_here
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(dag)
                    || airflow.is_paused(dag)?
                {
                    continue;
                }
                // Journaled and noted before the PATCH: a crash right after Airflow applied it
                // still leaves a trace for the next run, and the undo still covers it.
                if !ctx.dry_run {
                    ctx.record(Event::AirflowPause {
                        dag_id: dag.clone(),
                        is_paused: true,
                        intent: true,
                    });
                }
                paused_here
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(dag.clone());
                airflow.set_paused(dag, true)?;
            }
            Ok(())
        }
    };
    let result = if ctx.resumed.is_some() {
        // Going on with a run: the steps it finished are skipped, and if they are all the body
        // holds, pausing and unpausing again would be an effect of work already done.
        let deferred = ctx.deferred.until_work(pause_all);
        let result = body();
        ctx.deferred.withdraw(deferred);
        result
    } else {
        pause_all().and_then(|()| body())
    };
    let unpaused = {
        let _hold = ctx.cancel.hold();
        let mut failed = Vec::new();
        let paused: Vec<String> = paused_here
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for dag in paused {
            if let Err(e) = unpause_while_airflow_restarts(airflow, &dag) {
                let message = crate::diagnostic::message_of(&e);
                ctx.ui.warn(&format!(
                    "{dag} is STILL PAUSED: unpause it in Airflow's UI ({message})"
                ));
                ctx.summary.by_hand(&format!(
                    "unpause the DAG {dag} in Airflow (it is still paused)"
                ));
                failed.push(dag);
            }
        }
        failed
    };
    drop(undo);
    match result {
        Ok(value) if unpaused.is_empty() => {
            ctx.check_cancelled()?;
            Ok(value)
        }
        Ok(_) => Err(host_error(format!(
            "could not unpause {}: unpause it in Airflow's UI",
            unpaused.join(", ")
        ))),
        Err(e) => Err(e),
    }
}

/// How many times, and how far apart (run time), an unpause is tried: the deploy the DAG was
/// paused for may be restarting Airflow right then.
const UNPAUSE_ATTEMPTS: u32 = 10;
const UNPAUSE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

/// Unpauses `dag`, trying again while Airflow does not answer (a restart after the apply): a
/// refresh left paused after a good deploy is a failure too.
fn unpause_while_airflow_restarts(airflow: &Airflow, dag: &str) -> HostResult<bool> {
    let ctx = airflow.ctx();
    let mut attempt = 1;
    loop {
        match airflow.set_paused(dag, false) {
            Ok(state) => return Ok(state),
            Err(e) if attempt < UNPAUSE_ATTEMPTS && !crate::diagnostic::is_interrupt(&e) => {
                ctx.ui.warn(&format!(
                    "could not unpause {dag} yet ({}): trying again in {}",
                    crate::diagnostic::message_of(&e),
                    crate::ui::human(UNPAUSE_INTERVAL)
                ));
                // A plain sleep on the run's clock: clean-up holds Ctrl-C off, and a second
                // Ctrl-C exits through the last resort, which unpauses too.
                std::thread::sleep(ctx.clock.to_real(UNPAUSE_INTERVAL));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
