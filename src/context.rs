//! What every host function shares for one run: configuration, the dry-run switch, the journal,
//! the terminal, the clock and the Ctrl-C flag. Built once by the runtime, passed as `Ctx`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::error::{host_error, HostResult};
use crate::journal::{Event, Journal};
use crate::redact::Redactor;
use crate::ui::Ui;

pub use crate::cancel::{Cancel, CancelHold, Change, LastResort};
pub use crate::clock::Clock;

pub type Ctx = Arc<Context>;

pub struct Context {
    pub config: Config,
    /// Say every side effect instead of making it (`--dry-run`).
    pub dry_run: bool,
    /// Answer yes to every `confirm` (`--yes`).
    pub yes: bool,
    /// Shared with the clients of the systems, which journal their own calls.
    pub journal: Arc<Journal>,
    pub ui: Ui,
    pub cancel: Cancel,
    pub clock: Clock,
    /// The working directory the run started in (journal, relative paths).
    pub base_dir: PathBuf,
    pub redactor: Redactor,
    /// Each step's outcome and what is left to do by hand, printed at the end of the run.
    pub summary: crate::summary::Summary,
    /// Which runbook runs (`journal::runbook_id`), to find its earlier runs; empty in the REPL.
    pub runbook: String,
    /// A rehearsal: its journals are not those of real runs.
    pub rehearsal: bool,
    /// The run `--resume` goes on from.
    pub resumed: Option<crate::journal::RunRecord>,
    /// Run when the run ends, whatever its outcome (releasing the deploy lock).
    pub at_end: AtEnd,
    /// What the host's guards hold now: the deploy lock, the clearance flags raised.
    pub guards: Guards,
}

/// The state of the host's guards that production recipes are checked against: no production
/// recipe without the deploy lock, no production apply without a clearance flag raised by
/// `tf.with`, whatever the script says.
#[derive(Default)]
pub struct Guards {
    /// This run holds the deploy lock (taken, or taken over on `--resume`).
    pub lock_held: std::sync::atomic::AtomicBool,
    /// Clearance flags (`*_cleared`) set true by this run's `tf.with`, not restored yet.
    pub clearances_raised: std::sync::atomic::AtomicUsize,
}

impl Guards {
    pub fn holds_the_lock(&self) -> bool {
        self.lock_held.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn clearance_raised(&self) -> bool {
        self.clearances_raised
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    }
}

/// Actions for the end of a run, run once, newest first.
#[derive(Default)]
pub struct AtEnd(Mutex<Vec<Box<dyn FnOnce() + Send>>>);

impl AtEnd {
    pub fn push(&self, action: impl FnOnce() + Send + 'static) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(action));
    }

    pub fn run(&self) {
        let actions = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        for action in actions.into_iter().rev() {
            action();
        }
    }
}

impl Context {
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// In a dry run: print `would: WHAT`, journal it, and return true so that the caller skips
    /// the action. Every side-effecting host function asks this first.
    pub fn would(&self, what: &str) -> bool {
        if self.dry_run {
            self.ui.would(&self.redact(what));
            self.journal.record(&Event::Would {
                what: what.to_string(),
            });
        }
        self.dry_run
    }

    /// Journals what happened (an external call, a change, a step...).
    pub fn record(&self, event: Event) {
        self.journal.record(&event);
    }

    /// The infrastructure checkout where `just`, `git` and relative `.tf` paths run.
    pub fn infra_dir(&self) -> HostResult<PathBuf> {
        let dir = self.config.infra.dir.clone().ok_or_else(|| {
            host_error(
                "the infrastructure checkout is not configured: set OVSCRIPT_INFRA_DIR or `dir` under [infra] in ovscript.toml",
            )
        })?;
        let dir = if dir.is_relative() {
            self.base_dir.join(dir)
        } else {
            dir
        };
        if !dir.is_dir() {
            return Err(host_error(format!(
                "the infrastructure checkout {} does not exist: check OVSCRIPT_INFRA_DIR or [infra] dir",
                dir.display()
            )));
        }
        Ok(dir)
    }

    /// Fails with "interrupted" once Ctrl-C was pressed; long host calls ask between blocking parts.
    pub fn check_cancelled(&self) -> HostResult<()> {
        if self.cancel.is_cancelled() {
            Err(
                rhai::EvalAltResult::ErrorTerminated("interrupted".into(), rhai::Position::NONE)
                    .into(),
            )
        } else {
            Ok(())
        }
    }

    /// A child process that ended on Ctrl-C (SIGINT, or the shell's 130), or any child while
    /// Ctrl-C was pressed, is an interruption, never a failure: a failed apply would offer a
    /// rollback, and a failed read would say something untrue.
    pub fn interrupted_child(&self, status: &std::process::ExitStatus) -> HostResult<()> {
        #[cfg(unix)]
        let by_signal = {
            use std::os::unix::process::ExitStatusExt;
            status.signal() == Some(2)
        };
        #[cfg(not(unix))]
        let by_signal = false;
        // Clean-up after Ctrl-C (a hold: releasing the lock, restoring) runs its commands for real.
        if by_signal || status.code() == Some(130) || self.cancel.is_cancelled() {
            return Err(rhai::EvalAltResult::ErrorTerminated(
                "interrupted".into(),
                rhai::Position::NONE,
            )
            .into());
        }
        Ok(())
    }

    /// Sleeps `duration` of the run's clock, waking at once on Ctrl-C.
    pub fn sleep(&self, duration: Duration) -> HostResult<()> {
        self.cancel.wait(self.clock.to_real(duration));
        self.check_cancelled()
    }
}
