//! What every host function shares for one run: configuration, the dry-run switch, the journal,
//! the terminal, the clock and the Ctrl-C flag. Built once by the runtime, passed as `Ctx`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
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
    pub guards: Arc<Guards>,
    /// Preparations made only once the run does work (see `defer_until_work`).
    pub deferred: Deferred,
}

/// A preparation waiting for the run's next piece of work.
type Preparation = Box<dyn FnOnce() -> HostResult<()> + Send + Sync>;

/// Preparations deferred until the run does work: a step that runs (not one `--resume`
/// skips), a recipe that starts. A resumed run whose steps inside `airflow.while_paused` are all
/// done pauses nothing: what was finished leaves no extra effect.
#[derive(Default)]
pub struct Deferred {
    waiting: Mutex<Vec<(u64, Preparation)>>,
    next: std::sync::atomic::AtomicU64,
}

impl Deferred {
    /// Runs `preparation` before the next piece of work, unless `withdraw` comes first.
    pub fn until_work(
        &self,
        preparation: impl FnOnce() -> HostResult<()> + Send + Sync + 'static,
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        self.lock().push((id, Box::new(preparation)));
        id
    }

    /// The preparation `id` is not needed any more (what it prepared for ended without work).
    pub fn withdraw(&self, id: u64) {
        self.lock().retain(|(waiting, _)| *waiting != id);
    }

    /// Work starts: every waiting preparation runs now, in order; the first failure stops it.
    pub fn work_starts(&self) -> HostResult<()> {
        let waiting = std::mem::take(&mut *self.lock());
        for (_, preparation) in waiting {
            preparation()?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Preparation)>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the host's guards hold now, checked before every production change whatever the
/// script says: the deploy lock, the leftovers check, the clearance flags raised.
#[derive(Default)]
pub struct Guards {
    /// This run holds the deploy lock (taken, or taken over on `--resume`).
    lock_held: AtomicBool,
    /// This run's deployment looked for an earlier run's leftovers and found none, or is the
    /// `--resume` that takes them over (`DEPLOYMENT.take_over()`).
    leftovers_checked: AtomicBool,
    /// This run set out to deploy (`take_over` was called, whatever came of it): a run the
    /// team's history records.
    deploying: AtomicBool,
    /// Clearance flags (`*_cleared`) set true by this run's `tf.with`, not restored yet: the
    /// `.tf` file as `ENVIRONMENT/SERVICE` (`prod/catalog-airflow`), and the key.
    raised: Mutex<Vec<(String, String)>>,
}

impl Guards {
    pub fn holds_the_lock(&self) -> bool {
        self.lock_held.load(Ordering::SeqCst)
    }

    pub fn set_lock_held(&self, held: bool) {
        self.lock_held.store(held, Ordering::SeqCst);
    }

    pub fn leftovers_checked(&self) -> bool {
        self.leftovers_checked.load(Ordering::SeqCst)
    }

    pub fn deploying(&self) -> bool {
        self.deploying.load(Ordering::SeqCst)
    }

    pub fn set_deploying(&self) {
        self.deploying.store(true, Ordering::SeqCst);
    }

    pub fn set_leftovers_checked(&self) {
        self.leftovers_checked.store(true, Ordering::SeqCst);
    }

    /// Why `what` (a production change: "`just apply prod x`", "the publish of catalog-1") may
    /// not be made now, or `None` when this run holds the lock and passed the leftovers check.
    pub fn production_refusal(&self, what: &str) -> Option<String> {
        let missing = match (self.holds_the_lock(), self.leftovers_checked()) {
            (true, true) => return None,
            (false, _) => "does not hold the deploy lock",
            (true, false) => "has not checked for an earlier run's leftovers",
        };
        Some(format!(
            "{what} changes production, and this run {missing}: nothing was changed. A runbook declares its deployment and takes it over first (let d = deployment(#{{...}}); d.take_over();), so that no other deploy runs at once and nothing an earlier run left is deployed over"
        ))
    }

    /// A clearance flag `key` of `file` set true, until the returned guard is dropped.
    pub fn raise(self: &Arc<Self>, file: &std::path::Path, key: &str) -> Raised {
        let name = |part: Option<&std::ffi::OsStr>| {
            part.map(|part| part.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let environment = name(file.parent().and_then(|dir| dir.file_name()));
        let entry = (
            format!("{environment}/{}", name(file.file_stem())),
            key.to_string(),
        );
        self.raised
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry.clone());
        Raised {
            guards: self.clone(),
            entry,
        }
    }

    /// Whether a clearance flag of the `.tf` file of `service` in `environment` (its folder) is
    /// raised now.
    pub fn clearance_raised_for(&self, environment: &str, service: &str) -> bool {
        let file = format!("{environment}/{service}");
        self.raised
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(raised, _)| *raised == file)
    }
}

/// A raised clearance flag, counted by the guards while it lives.
pub struct Raised {
    guards: Arc<Guards>,
    entry: (String, String),
}

impl Drop for Raised {
    fn drop(&mut self) {
        let mut raised = self.guards.raised.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = raised.iter().position(|entry| *entry == self.entry) {
            raised.remove(at);
        }
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
    /// The earlier run of this runbook that a deploy must know of: the one `--resume` goes on
    /// with (`true`), or else the newest unfinished one (`false`); none in the REPL.
    pub fn earlier_run(&self) -> Option<(crate::journal::RunRecord, bool)> {
        if let Some(record) = &self.resumed {
            return Some((record.clone(), true));
        }
        if self.runbook.is_empty() {
            return None;
        }
        crate::journal::RunRecord::newest_unfinished(
            &self.base_dir,
            &self.runbook,
            self.rehearsal,
            self.journal.run_id(),
        )
        .map(|record| (record, false))
    }

    /// Refuses `what`, a production change, unless this run holds the deploy lock and passed
    /// the leftovers check (see `Guards`). A dry run changes nothing and is never refused.
    pub fn production_change(&self, what: &str) -> HostResult<()> {
        match self.guards.production_refusal(what) {
            Some(refusal) if !self.dry_run => Err(host_error(refusal)),
            _ => Ok(()),
        }
    }

    /// Something the operator must still do by hand: listed at the end of the run, journaled.
    pub fn by_hand(&self, what: &str) {
        self.summary.by_hand(what);
        self.record(Event::ByHand {
            what: what.to_string(),
        });
    }

    /// A warning for the operator, journaled.
    pub fn warn(&self, message: &str) {
        self.ui.warn(message);
        self.record(Event::Warning {
            message: message.to_string(),
        });
    }

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
