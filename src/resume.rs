//! `--resume`: which earlier run a run may go on from, what it inherits along the chain of
//! runs that went on before, and the command that goes on from a failed run.

use std::path::Path;

use crate::cli::RunArgs;
use crate::embedded::Embedded;
use crate::error::Error;
use crate::journal;

/// The earlier run `--resume RUN_ID` may go on from: of the same kind, of this runbook, and of
/// this script unless `changed_ok` (`--resume-changed`). Anything else is a usage error.
pub fn resumable(
    base_dir: &Path,
    run_id: &str,
    mode: journal::Mode,
    runbook: &str,
    sha: &str,
    changed_ok: bool,
) -> Result<journal::RunRecord, Error> {
    let record = journal::RunRecord::read(base_dir, run_id).map_err(Error::usage)?;
    record.check_mode(mode).map_err(Error::usage)?;
    if let Some(damage) = &record.damaged {
        return Err(Error::usage(format!(
            "the journal of run {run_id} is damaged ({damage}: truncated or edited): what it did cannot be told from it, so it cannot be gone on with; check by hand what it changed (ovscript log {run_id}, the infrastructure checkout, the deploy lock), then run the script without --resume"
        )));
    }

    if !record.runbook.is_empty() && record.runbook != runbook {
        return Err(Error::usage(format!(
            "run {run_id} ran {}, not {runbook}: --resume goes on only from a run of the same runbook; run this one without --resume",
            record.runbook
        )));
    }
    if record.ended_ok() {
        return Err(Error::usage(format!(
            "run {run_id} finished: there is nothing to go on with; run the script without --resume"
        )));
    }
    // A run another run went on with is that run's now: going on from it again would redo
    // what the later one did (skipping the publish of a release it did not publish).
    if let Some(later) = journal::RunRecord::resumed_by(base_dir, run_id) {
        let later_path = base_dir.join(journal::DIR).join(format!("{later}.jsonl"));
        if journal::is_running(&later_path) {
            return Err(Error::usage(format!(
                "run {run_id} is being gone on with by run {later}, which is still running: let it finish"
            )));
        }
        return Err(Error::usage(format!(
            "run {run_id} was resumed by run {later}: go on with the newest run of that chain (--resume {later}), or run the script without --resume"
        )));
    }
    // Two processes going on with one deploy would each apply it: the run must be dead (no
    // process of it, nor a recipe it started, holds its journal), and is ours from now on.
    if record.running || journal::hold(base_dir, run_id).is_err() {
        return Err(Error::usage(format!(
            "run {run_id} is still running (ovscript, or a recipe it started such as just apply), in another terminal or process on this machine: let it finish, or stop it (Ctrl-C) and then go on with --resume {run_id}"
        )));
    }
    if record.sha256 != sha && !changed_ok {
        return Err(Error::usage(format!(
            "{}, or a module it imports, changed since run {run_id}: its finished steps may no longer be the script's; check the change, then go on with --resume {run_id} --resume-changed (steps that no longer line up run again, and are named)",
            record.script
        )));
    }
    let mut record = record;
    inherit_finished_steps(base_dir, &mut record);
    Ok(record)
}

/// A run that went on with an earlier one and died before reaching that one's finished steps
/// did not journal them: they are its own to skip all the same (the chain, oldest last).
fn inherit_finished_steps(base_dir: &Path, record: &mut journal::RunRecord) {
    let mut earlier = record.resumed.clone();
    let mut seen = vec![record.run_id.clone()];
    while let Some(run_id) = earlier.filter(|id| !seen.contains(id)) {
        let Ok(previous) = journal::RunRecord::read(base_dir, &run_id) else {
            break;
        };
        for step in previous.finished {
            if !record.finished.iter().any(|s| s.ordinal == step.ordinal) {
                record.finished.push(step);
            }
        }
        seen.push(run_id);
        earlier = previous.resumed;
    }
}

/// The command that goes on from a failed run, `{}` standing for the run id: the same kind of
/// run (a rehearsal from a rehearsal...), in the form it was started in.
pub fn go_on_command(args: &RunArgs, embedded: Option<&Embedded>) -> String {
    if let Some(e) = embedded {
        let mut vars = String::new();
        if let Some(scenario) = &args.rehearse {
            vars.push_str(&format!("OVSCRIPT_REHEARSE={scenario} "));
        }
        if args.dry_run {
            vars.push_str("OVSCRIPT_DRY_RUN=1 ");
        }
        let rest = crate::shell::shell_words(args.args.iter());
        let rest = if rest.is_empty() {
            rest
        } else {
            format!(" {rest}")
        };
        return format!("{vars}OVSCRIPT_RESUME={{}} just {}{rest}", e.recipe);
    }
    let mut flags = String::new();
    if let Some(scenario) = &args.rehearse {
        flags.push_str(&format!("--rehearse={scenario} "));
    }
    if args.dry_run {
        flags.push_str("--dry-run ");
    }
    if let Some(config) = &args.common.config {
        flags.push_str(&format!("--config {} ", config.display()));
    }
    // The runbook's own options too: a run resumed without them would skip what they asked
    // for (an expected Airflow version, a local rollback).
    let options = crate::shell::shell_words(args.args.iter());
    let options = if options.is_empty() {
        options
    } else {
        format!(" {options}")
    };
    format!(
        "ovscript run {flags}--resume {{}} {}{options}",
        args.script.display()
    )
}
