//! The signal witness: a tiny process (`ovscript signal-witness`, hidden) that leads the process
//! group of a recipe holding the terminal. A Ctrl-C at the terminal then goes to the recipe's
//! group alone, once; the witness, a member, tells ovscript about it on its stdout, so that
//! ovscript stops the run without sending the recipe a second interrupt.
//!
//! It blocks the signals it reports and takes them with `sigwaitinfo`, so none is lost and none
//! ends it; the signals ovscript itself sends the group (its parent's pid) are not reported. It
//! ends when ovscript closes its stdout or dies (`PR_SET_PDEATHSIG`, set by the spawner).

use std::io::Write;

/// The signals a witness reports, with the word it writes for each.
pub const REPORTED: [(libc::c_int, &str); 3] = [
    (libc::SIGINT, "INT"),
    (libc::SIGTERM, "TERM"),
    (libc::SIGHUP, "HUP"),
];

/// The witness's whole life: report each signal of its group until nobody listens.
pub fn serve() -> i32 {
    // SAFETY: sigset and sigwaitinfo calls on this process's own mask, with valid pointers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for (signal, _) in REPORTED {
            libc::sigaddset(&mut set, signal);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let parent = libc::getppid();
        // Told that it started: the spawner waits for this line before giving it the terminal.
        if writeln!(std::io::stdout(), "READY").is_err() {
            return 0;
        }
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let signal = libc::sigwaitinfo(&set, &mut info);
            if signal < 0 {
                continue;
            }
            if info.si_pid() == parent {
                continue;
            }
            let Some((_, word)) = REPORTED.iter().find(|(s, _)| *s == signal) else {
                continue;
            };
            let mut out = std::io::stdout();
            if writeln!(out, "{word}").and_then(|_| out.flush()).is_err() {
                return 0;
            }
        }
    }
}

/// The interruption a witness's word stands for.
pub fn interruption_of(word: &str) -> Option<crate::cancel::Interruption> {
    use crate::cancel::Interruption;
    match word.trim() {
        "INT" => Some(Interruption::Interrupt),
        "TERM" => Some(Interruption::Terminate),
        "HUP" => Some(Interruption::TerminalLost),
        _ => None,
    }
}
