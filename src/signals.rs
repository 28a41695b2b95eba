//! How signals stop a run: one thread receives SIGINT (and SIGQUIT, Ctrl-\\, taken as Ctrl-C),
//! SIGTERM and SIGHUP, another watches the terminal for a hangup, and both turn what they see
//! into interruptions of the process-wide [`Cancel`].
//!
//! - The first signal interrupts the run: its host calls unwind, a running recipe gets one
//!   SIGINT (from `child`: it runs apart from ovscript's group), the guards restore and release.
//! - Signals within [`SAME_INTERRUPTION`] of the first are the same interruption: `timeout`
//!   signals ovscript and then its group, a runner may send two at once.
//! - A later SIGINT is the operator's second Ctrl-C: the last resorts run, the journal says how
//!   the run ended, and the process exits at once.
//! - A later SIGTERM or SIGHUP changes nothing: the run is already stopping as safely as it can
//!   (a CI runner's SIGTERM 7.5 s after its SIGINT must not cut the apply's clean stop).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::cancel::{Cancel, Interruption};
use crate::journal::{Event, Journal};

/// Two signals closer than this are one interruption.
pub const SAME_INTERRUPTION: Duration = Duration::from_millis(100);

/// What the signal thread needs of the run in progress.
struct Process {
    cancel: Cancel,
    /// The run's journal and when the run began, for how it ended when the process must exit
    /// at once or crashed.
    journal: Mutex<Option<(Arc<Journal>, Instant)>>,
}

fn process() -> &'static Process {
    static PROCESS: OnceLock<Process> = OnceLock::new();
    PROCESS.get_or_init(|| {
        install();
        Process {
            cancel: crate::cancel::process(),
            journal: Mutex::default(),
        }
    })
}

/// The process-wide interruption flag, its signal thread started on first use.
pub fn cancel() -> Cancel {
    process().cancel.clone()
}

/// The journal of the run in progress: the exit-at-once path writes the run's end there.
pub fn journal_run(journal: Arc<Journal>) {
    *process().journal.lock().unwrap_or_else(|e| e.into_inner()) = Some((journal, Instant::now()));
}

/// Journals how the run ended, for the paths that end it outside its own code.
fn record_end(outcome: crate::journal::Outcome, error: &str) {
    if let Some((journal, started)) = process()
        .journal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        journal.record(&Event::RunEnd {
            outcome,
            error: Some(error.into()),
            duration_ms: started.elapsed().as_millis() as u64,
            by_hand: Vec::new(),
        });
    }
}

fn install() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    // Ctrl-\ (SIGQUIT) would otherwise end the process at once, a flag left set: it is a Ctrl-C.
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGQUIT, SIGTERM, SIGHUP])
    {
        Ok(signals) => signals,
        Err(e) => {
            crate::ui::err(&format!("warning: cannot handle signals: {e}\n"));
            return;
        }
    };
    watch_the_terminal();
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let why = match signal {
                    SIGINT | SIGQUIT => Interruption::Interrupt,
                    SIGTERM => Interruption::Terminate,
                    _ => Interruption::TerminalLost,
                };
                received(why);
            }
        });
}

/// A terminal that hangs up (an SSH session drops) is a lost terminal even when no SIGHUP comes
/// to ovscript (only the session leader, often the shell, gets one): a thread waits in poll(2)
/// for the hangup of standard input, without polling in a loop.
fn watch_the_terminal() {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("terminal".into())
        .spawn(|| loop {
            let mut watched = libc::pollfd {
                fd: 0,
                events: 0,
                revents: 0,
            };
            // SAFETY: poll(2) on one valid pollfd; events 0 waits for hangup and errors only.
            let ready = unsafe { libc::poll(&mut watched, 1, -1) };
            if ready > 0 && watched.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
            {
                received(Interruption::TerminalLost);
                return;
            }
        });
}

/// An interruption for the run (a signal, a hung-up terminal): the first stops it, a later
/// SIGINT exits at once, anything else within [`SAME_INTERRUPTION`] or later changes nothing.
pub fn received(why: Interruption) {
    let process = process();
    match process.cancel.interrupt(why) {
        None => say(match why {
            Interruption::TerminalLost => "\nthe terminal is gone: finishing the running recipe, then undoing what this run changed".to_string(),
            _ => format!(
                "\n{}: undoing what the current step changed (Ctrl-C again to exit at once)",
                why.describe()
            ),
        }),
        Some((_, at)) if at.elapsed() < SAME_INTERRUPTION => {}
        Some((first, _)) if why == Interruption::Interrupt && first != Interruption::TerminalLost => {
            exit_now(process)
        }
        Some(_) => say(format!(
            "\n{} again: already stopping; the clean-up goes on (Ctrl-C to exit at once)",
            why.describe()
        )),
    }
}

/// The operator's second Ctrl-C: undo what the last resorts can, journal the end, exit.
fn exit_now(process: &Process) -> ! {
    say("\ninterrupted again: exiting now".to_string());
    if process.cancel.changes_in_flight() > 0 {
        say("waiting for the change in flight (a request, a push) to end before undoing: the lock is released after the run's last change".to_string());
    }
    process.cancel.run_last_resorts();
    record_end(
        Interruption::Interrupt.outcome(),
        "exited at once on a second Ctrl-C",
    );
    std::process::exit(Interruption::Interrupt.exit_code());
}

/// The run ended in a bug (a panic): the journal says so, so that `ovscript log` shows how it
/// ended and `--resume` can go on from it.
pub fn crashed() {
    record_end(
        crate::journal::Outcome::Crashed,
        "ovscript itself failed (a bug)",
    );
}

/// A line to stderr from the signal thread: never panics, even on a dead terminal.
fn say(text: String) {
    crate::ui::err(&format!("{text}\n"));
}
