//! Ctrl-C for a run: the flag the signal handler sets and every wait wakes on, the clean-up
//! that holds it off, and the last resorts a process runs when it must exit at once.
//!
//! An interruption has a kind (Ctrl-C, a termination request, the terminal lost, the journal
//! lost): the first one decides how the run ends and its exit code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
    /// The process is exiting (a second Ctrl-C): its last resorts are running.
    exiting: Arc<AtomicBool>,
    /// The first interruption and when it came.
    first: Arc<Mutex<Option<(Interruption, Instant)>>>,
    /// Changes to the world in flight (a publish, a pause, a push, a flag written): the last
    /// resorts wait for them, so the lock is released only after the run's last change.
    changing: Arc<std::sync::atomic::AtomicUsize>,
}

/// How long the last resorts wait for changes in flight: longer than any request's timeout.
const CHANGE_PATIENCE: Duration = Duration::from_secs(120);

thread_local! {
    /// This thread runs the last resorts: its own changes (an unpause, the lock's release) go.
    static UNDOING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What stopped a run. Its exit code follows the shell's 128 + signal rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// SIGINT: Ctrl-C at the terminal, `kill -INT`, `timeout -s INT`, a CI runner's cancel.
    Interrupt,
    /// SIGTERM: `kill`, `timeout`, a CI runner's cancel after its grace.
    Terminate,
    /// SIGHUP, or a terminal that answers writes with EIO: nobody is there any more.
    TerminalLost,
    /// The journal cannot be written (disk full): a deploy whose record is lost cannot be resumed.
    JournalLost,
}

impl Interruption {
    /// The exit code a wrapper reads: 130, 143, 129 as a shell reports those signals; 1 for a
    /// lost journal (the run failed, no signal came).
    pub fn exit_code(self) -> i32 {
        match self {
            Interruption::Interrupt => 130,
            Interruption::Terminate => 143,
            Interruption::TerminalLost => 129,
            Interruption::JournalLost => 1,
        }
    }

    /// The journal's outcome for a run that ended so.
    pub fn outcome(self) -> crate::journal::outcome::Outcome {
        use crate::journal::outcome::Outcome;
        match self {
            Interruption::Interrupt => Outcome::Interrupted,
            Interruption::Terminate => Outcome::Terminated,
            Interruption::TerminalLost => Outcome::TerminalLost,
            Interruption::JournalLost => Outcome::JournalLost,
        }
    }

    /// How the operator is told what stopped the run.
    pub fn describe(self) -> &'static str {
        match self {
            Interruption::Interrupt => "interrupted (Ctrl-C)",
            Interruption::Terminate => "interrupted (SIGTERM)",
            Interruption::TerminalLost => "interrupted: the terminal was lost (SIGHUP)",
            Interruption::JournalLost => "stopped: the journal cannot be written",
        }
    }
}

impl Cancel {
    /// Ctrl-C (the REPL, tests): an interruption of the default kind.
    pub fn trigger(&self) {
        let _ = self.interrupt(Interruption::Interrupt);
    }

    /// Stops the run for `why`; the first interruption is the one the run ends with. Returns
    /// the interruption that came before this one, if any, and when.
    pub fn interrupt(&self, why: Interruption) -> Option<(Interruption, Instant)> {
        let (lock, wake, flag) = &*self.inner;
        let earlier = {
            // The flag is set under the same lock: of two interruptions at once, one is first.
            let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
            let earlier = first.filter(|_| flag.load(Ordering::SeqCst));
            if earlier.is_none() {
                *first = Some((why, Instant::now()));
            }
            flag.store(true, Ordering::SeqCst);
            earlier
        };
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        wake.notify_all();
        earlier
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

    /// What stopped the run, once something did.
    pub fn interruption(&self) -> Option<Interruption> {
        if !self.was_triggered() {
            return None;
        }
        self.first
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|(why, _)| why)
    }

    /// Whether nobody can answer a question any more: every later `confirm` is "no".
    pub fn terminal_lost(&self) -> bool {
        self.interruption() == Some(Interruption::TerminalLost)
    }

    /// Whether the process is exiting: its last resorts run, and nothing else may clean up.
    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::SeqCst)
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
            // A panic of the work is the caller's, raised on its thread: a waiter that never
            // hears back would hang the run with a flag set.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            *filled.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            cancel.wake();
        });
        let mut result = None;
        self.wait_for(|| {
            result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            result.is_some()
        });
        match result? {
            Ok(value) => Some(value),
            Err(panic) => std::panic::resume_unwind(panic),
        }
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

/// The process's one interruption flag: signals, a lost terminal and a lost journal set it.
pub fn process() -> Cancel {
    static PROCESS: std::sync::OnceLock<Cancel> = std::sync::OnceLock::new();
    PROCESS.get_or_init(Cancel::default).clone()
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

    /// Marks a change to the world (an HTTP request that changes something, a git command, a
    /// recipe's start, a file written with its undo registered): until the guard is dropped,
    /// the last resorts wait. Once the process is exiting, a new change never starts: the
    /// calling thread waits for the exit.
    pub fn change(&self) -> Change {
        self.changing.fetch_add(1, Ordering::SeqCst);
        let change = Change {
            cancel: self.clone(),
        };
        if self.is_exiting() && !UNDOING.with(|undoing| undoing.get()) {
            drop(change);
            loop {
                std::thread::park();
            }
        }
        change
    }

    /// How many changes to the world are in flight now.
    pub fn changes_in_flight(&self) -> usize {
        self.changing.load(Ordering::SeqCst)
    }

    /// Runs every registered undo, newest first (the process is about to exit), once the
    /// changes in flight have ended: the lock is released after the run's last change.
    pub fn run_last_resorts(&self) {
        self.exiting.store(true, Ordering::SeqCst);
        UNDOING.with(|undoing| undoing.set(true));
        let deadline = Instant::now() + CHANGE_PATIENCE;
        {
            let (lock, wake, _) = &*self.inner;
            let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            while self.changing.load(Ordering::SeqCst) > 0 {
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
        let list =
            std::mem::take(&mut *self.last_resorts.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, undo) in list.iter().rev() {
            undo();
        }
    }
}

/// Unregisters its undo when dropped: the normal clean-up has run. Dropped while its thread
/// unwinds from a panic, it runs the undo instead: the clean-up after it will not run.
pub struct LastResort {
    id: u64,
    list: Arc<Mutex<Vec<(u64, LastResortFn)>>>,
}

impl Drop for LastResort {
    fn drop(&mut self) {
        let undo = {
            let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
            let position = list.iter().position(|(id, _)| *id == self.id);
            position.map(|i| list.remove(i).1)
        };
        if let Some(undo) = undo {
            if std::thread::panicking() {
                undo();
            }
        }
    }
}

/// A change to the world in flight (see [`Cancel::change`]).
pub struct Change {
    cancel: Cancel,
}

impl Drop for Change {
    fn drop(&mut self) {
        self.cancel.changing.fetch_sub(1, Ordering::SeqCst);
        self.cancel.wake();
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
        cancel.interrupt(Interruption::Terminate);
        t.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(cancel.interruption(), Some(Interruption::Terminate));
        // A later interruption does not change how the run ends.
        cancel.interrupt(Interruption::Interrupt);
        assert_eq!(cancel.interruption(), Some(Interruption::Terminate));
        assert_eq!(Interruption::TerminalLost.exit_code(), 129);
    }

    #[test]
    fn the_last_resorts_wait_for_a_change_in_flight_and_no_change_starts_after() {
        let cancel = Cancel::default();
        let order = Arc::new(Mutex::new(Vec::new()));
        let log = order.clone();
        let _undo = cancel.last_resort(move || log.lock().unwrap().push("undone"));
        let change = cancel.change();
        let exiting = cancel.clone();
        let exit = std::thread::spawn(move || exiting.run_last_resorts());
        std::thread::sleep(Duration::from_millis(200));
        order.lock().unwrap().push("change ended");
        drop(change);
        exit.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["change ended", "undone"]);
        // A change asked for now waits for the exit for ever.
        let late = cancel.clone();
        let started = Arc::new(AtomicBool::new(false));
        let flag = started.clone();
        std::thread::spawn(move || {
            let _change = late.change();
            flag.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(!started.load(Ordering::SeqCst));
    }

    #[test]
    fn a_panic_of_interruptible_work_reaches_the_caller() {
        let cancel = Cancel::default();
        let caught =
            std::panic::catch_unwind(|| cancel.interruptible(|| -> u8 { panic!("in the work") }));
        assert!(caught.is_err());
    }

    #[test]
    fn a_last_resort_runs_when_its_thread_unwinds() {
        let cancel = Cancel::default();
        let ran = Arc::new(AtomicBool::new(false));
        let seen = ran.clone();
        let inner = cancel.clone();
        let _ = std::thread::spawn(move || {
            let _undo = inner.last_resort(move || seen.store(true, Ordering::SeqCst));
            panic!("a bug");
        })
        .join();
        assert!(ran.load(Ordering::SeqCst));
        // Dropped normally, it does not run.
        let ran = Arc::new(AtomicBool::new(false));
        let seen = ran.clone();
        drop(cancel.last_resort(move || seen.store(true, Ordering::SeqCst)));
        assert!(!ran.load(Ordering::SeqCst));
    }
}
