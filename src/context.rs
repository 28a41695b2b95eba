//! What every host function shares for one run: configuration, the dry-run switch, the journal,
//! the terminal, the clock and the Ctrl-C flag. Built once by the runtime, passed as `Ctx`.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{host_error, HostResult};
use crate::journal::Journal;
use crate::redact::Redactor;
use crate::ui::Ui;

pub type Ctx = Arc<Context>;

pub struct Context {
    pub config: Config,
    /// Say every side effect instead of making it (`--dry-run`).
    pub dry_run: bool,
    /// Answer yes to every `confirm` (`--yes`).
    pub yes: bool,
    pub journal: Journal,
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
            self.journal.record("would", json!({ "what": what }));
        }
        self.dry_run
    }

    /// Journals an external call or change; `fields` are merged into the line.
    pub fn record(&self, event: &str, fields: Value) {
        self.journal.record(event, fields);
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
        if by_signal || status.code() == Some(130) || self.cancel.was_triggered() {
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

/// The Ctrl-C flag: set by the signal handler, read by Rhai's progress callback, and able to
/// wake a sleeping `wait_until` at once (no polling loop).
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<(Mutex<()>, Condvar, AtomicBool)>,
    /// Undo actions for a process that must exit now (a second Ctrl-C, a panic).
    last_resorts: Arc<Mutex<Vec<(u64, LastResortFn)>>>,
    next_last_resort: Arc<std::sync::atomic::AtomicU64>,
    /// While positive, cancellation is held off so that clean-up code (`always`) can run.
    held: Arc<std::sync::atomic::AtomicUsize>,
}

impl Cancel {
    pub fn trigger(&self) {
        let (lock, wake, flag) = &*self.inner;
        flag.store(true, Ordering::SeqCst);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        wake.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.2.load(Ordering::SeqCst) && self.held.load(Ordering::SeqCst) == 0
    }

    /// Holds cancellation off until the returned guard is dropped: clean-up after Ctrl-C must
    /// itself run to the end (a second Ctrl-C still exits at once).
    pub fn hold(&self) -> CancelHold {
        self.held.fetch_add(1, Ordering::SeqCst);
        CancelHold {
            held: self.held.clone(),
        }
    }

    /// Whether Ctrl-C was pressed, even while clean-up holds cancellation off: a second Ctrl-C
    /// must still be able to abandon a clean-up that hangs.
    pub fn was_triggered(&self) -> bool {
        self.inner.2.load(Ordering::SeqCst)
    }

    /// Clears the flag (the REPL goes on after a cancelled line).
    pub fn reset(&self) {
        self.inner.2.store(false, Ordering::SeqCst);
    }

    /// Wakes the waiters of `wait_for` (someone made their condition true).
    pub fn wake(&self) {
        let (lock, wake, _) = &*self.inner;
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        wake.notify_all();
    }

    /// Waits until `ready()` (whoever makes it true calls `wake`) or Ctrl-C; true if ready.
    pub fn wait_for(&self, mut ready: impl FnMut() -> bool) -> bool {
        let (lock, wake, _) = &*self.inner;
        let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if ready() {
                return true;
            }
            if self.is_cancelled() {
                return false;
            }
            guard = wake.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Runs `work` (a blocking call) on its own thread and waits for its result or Ctrl-C,
    /// whichever comes first: `None` when interrupted (the work may still finish, unseen).
    pub fn interruptible<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let slot = Arc::new(Mutex::new(None));
        let filled = slot.clone();
        let cancel = self.clone();
        std::thread::spawn(move || {
            let result = work();
            *filled.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            cancel.wake();
        });
        let mut result = None;
        self.wait_for(|| {
            result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            result.is_some()
        });
        result
    }

    /// Waits up to `timeout` of real time, returning early when cancelled.
    pub fn wait(&self, timeout: Duration) {
        let (lock, wake, flag) = &*self.inner;
        let _ = flag;
        // A wait too long to add to the clock waits as long as a wait can.
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(u32::MAX as u64));
        let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        // Not the raw flag: clean-up code (a hold) must still sleep between its polls.
        while !self.is_cancelled() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            guard = match wake.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

type LastResortFn = Box<dyn Fn() + Send + Sync>;

impl Cancel {
    /// Registers `undo` to run if the process exits before the returned guard is dropped: the
    /// normal clean-up (restoring a flag) cannot run when a second Ctrl-C exits at once.
    pub fn last_resort(&self, undo: impl Fn() + Send + Sync + 'static) -> LastResort {
        let id = self.next_last_resort.fetch_add(1, Ordering::SeqCst);
        let mut list = self.last_resorts.lock().unwrap_or_else(|e| e.into_inner());
        list.push((id, Box::new(undo)));
        LastResort {
            id,
            list: self.last_resorts.clone(),
        }
    }

    /// Runs every registered undo, newest first (the process is about to exit).
    pub fn run_last_resorts(&self) {
        let list =
            std::mem::take(&mut *self.last_resorts.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, undo) in list.iter().rev() {
            undo();
        }
    }
}

/// Unregisters its undo when dropped: the normal clean-up has run.
pub struct LastResort {
    id: u64,
    list: Arc<Mutex<Vec<(u64, LastResortFn)>>>,
}

impl Drop for LastResort {
    fn drop(&mut self) {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}

pub struct CancelHold {
    held: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for CancelHold {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Run time as scripts see it. A rehearsal runs its waits on a fast clock (`speed` > 1) so that a
/// 15-minute `wait_until` plays out in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { speed: 1.0 }
    }
}

impl Clock {
    pub fn fast(speed: f64) -> Self {
        Clock {
            speed: speed.max(1.0),
        }
    }

    /// A rehearsal's clock.
    pub fn is_fast(&self) -> bool {
        self.speed > 1.0
    }

    /// How much run time has passed since `start` (real time × speed).
    pub fn elapsed(&self, start: Instant) -> Duration {
        start.elapsed().mul_f64(self.speed)
    }

    pub fn to_real(&self, run_time: Duration) -> Duration {
        run_time.div_f64(self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_wakes_a_waiter_at_once() {
        let cancel = Cancel::default();
        let other = cancel.clone();
        let started = Instant::now();
        let t = std::thread::spawn(move || other.wait(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(50));
        cancel.trigger();
        t.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_fast_clock_shortens_real_waits() {
        let clock = Clock::fast(60.0);
        assert_eq!(
            clock.to_real(Duration::from_secs(60)),
            Duration::from_secs(1)
        );
    }
}
