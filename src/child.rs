//! Waiting for a child process (a recipe: `just apply`) so that Ctrl-C never leaves it running
//! under the clean-up. When the terminal's Ctrl-C reached the child too, it is given time to stop
//! cleanly on its own (terraform exits at once, state lost, on a second interrupt); when the
//! signal reached ovscript alone, the child is sent SIGINT once. Then SIGTERM and SIGKILL, each
//! after a bounded wait, with the processes it started. Only then does the script unwind and
//! restore a clearance flag: never under a running apply. A second Ctrl-C (the host's last
//! resort) stops it at once: SIGTERM, then SIGKILL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::{Ctx, LastResort};

/// How long a child may take to end after each step of the escalation.
#[derive(Clone, Copy)]
struct Patience {
    /// For the child to end on its own: it got the terminal's Ctrl-C too.
    on_its_own: Duration,
    /// Whether to send it SIGINT: not when the terminal did (terraform takes a second interrupt
    /// as "exit immediately", losing state), only when the signal reached ovscript alone.
    send_sigint: bool,
    after_sigint: Duration,
    after_sigterm: Duration,
}

/// Ctrl-C reached the recipe through the terminal: give it time to stop cleanly (terraform
/// finishes what it started), then escalate; a second Ctrl-C escalates at once.
const TERMINAL_CTRL_C: Patience = Patience {
    on_its_own: Duration::from_secs(600),
    send_sigint: false,
    after_sigint: Duration::ZERO,
    after_sigterm: Duration::from_secs(30),
};

/// The signal reached ovscript alone (SIGTERM, a `kill`, no terminal): interrupt the recipe once.
const OVSCRIPT_ALONE: Patience = Patience {
    on_its_own: Duration::ZERO,
    send_sigint: true,
    after_sigint: Duration::from_secs(300),
    after_sigterm: Duration::from_secs(30),
};

/// The process is exiting (a second Ctrl-C): less patience, but still no restore under a
/// running child.
const ON_EXIT: Patience = Patience {
    on_its_own: Duration::ZERO,
    send_sigint: false,
    after_sigint: Duration::ZERO,
    after_sigterm: Duration::from_secs(5),
};

/// Whether a Ctrl-C at the terminal reached the child too: ovscript (and so the child) is the
/// terminal's foreground process group.
fn terminal_signals_reach_the_child() -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return false;
    }
    // SAFETY: tcgetpgrp and getpgrp only read this process's terminal and group ids.
    let (foreground, ours) = unsafe { (libc::tcgetpgrp(0), libc::getpgrp()) };
    foreground > 0 && foreground == ours
}

/// Waits for `handle` or Ctrl-C. `None` when interrupted: by then the child has ended.
pub fn wait(
    ctx: &Ctx,
    what: &str,
    handle: duct::Handle,
) -> Option<std::io::Result<std::process::Output>> {
    let handle = Arc::new(handle);
    let _stop_on_exit = stop_on_exit(ctx, what, &handle);
    let waiter = handle.clone();
    let outcome = ctx.cancel.interruptible(move || waiter.wait().cloned());
    if outcome.is_none() {
        let patience = if terminal_signals_reach_the_child() {
            eprintln!(
                "{}",
                ctx.redact(&format!(
                    "waiting for `{what}` to stop: it got the Ctrl-C too (Ctrl-C again to stop it at once)"
                ))
            );
            TERMINAL_CTRL_C
        } else {
            OVSCRIPT_ALONE
        };
        stop(ctx, what, &handle, patience);
    }
    // A second Ctrl-C may have stopped the child from its last resort: the process is about to
    // exit there, and this thread must not race it with clean-up of its own.
    while ctx.cancel.is_exiting() {
        std::thread::park();
    }
    outcome
}

/// A second Ctrl-C exits at once: the child is stopped first (last resorts run newest first, so
/// before the flag is restored).
fn stop_on_exit(ctx: &Ctx, what: &str, handle: &Arc<duct::Handle>) -> LastResort {
    let (ctx2, what, handle) = (ctx.clone(), what.to_string(), handle.clone());
    ctx.cancel
        .last_resort(move || stop(&ctx2, &what, &handle, ON_EXIT))
}

fn stop(ctx: &Ctx, what: &str, handle: &duct::Handle, patience: Patience) {
    if ended_within(handle, patience.on_its_own) {
        return;
    }
    let mut steps = Vec::new();
    if patience.send_sigint {
        steps.push((libc::SIGINT, patience.after_sigint, "SIGINT"));
    }
    steps.push((libc::SIGTERM, patience.after_sigterm, "SIGTERM"));
    for (signal, wait, name) in steps {
        eprintln!(
            "{}",
            ctx.redact(&format!(
                "stopping `{what}` ({name}); waiting up to {} for it to end",
                crate::ui::human(wait)
            ))
        );
        signal_tree(handle, signal);
        if ended_within(handle, wait) {
            return;
        }
    }
    eprintln!(
        "{}",
        ctx.redact(&format!("`{what}` did not stop: killing it (SIGKILL)"))
    );
    signal_tree(handle, libc::SIGKILL);
    let _ = handle.wait();
}

/// Polls the child every 50 ms until it ends or `limit` passes: a bounded wait on a process
/// another thread is already waiting for (no busy loop).
fn ended_within(handle: &duct::Handle, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if matches!(handle.try_wait(), Ok(Some(_)) | Err(_)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `signal` to the child and every process it started (a recipe's shell, terraform).
fn signal_tree(handle: &duct::Handle, signal: libc::c_int) {
    let mut pids: Vec<u32> = handle.pids();
    let mut i = 0;
    while i < pids.len() {
        for child in children_of(pids[i]) {
            if !pids.contains(&child) {
                pids.push(child);
            }
        }
        i += 1;
    }
    for pid in pids.into_iter().rev() {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: kill(2) with a pid of our own child tree and a valid signal number.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
}

/// `command` with the descriptor `fd` left open in the child, and so in what it starts: the
/// run's journal lock (`Journal::lock_fd`), so that the run counts as going while a recipe it
/// started lives, even if ovscript itself was killed.
pub fn inheriting(command: duct::Expression, fd: Option<i32>) -> duct::Expression {
    let Some(fd) = fd else {
        return command;
    };
    command.before_spawn(move |cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec, fcntl(2) is async-signal-safe and changes only the
        // child's own copy of `fd` (its close-on-exec flag), which stays open for its life.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(())
    })
}

/// The processes whose parent is `pid` (from /proc; none where there is no /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| parent_of(*candidate) == Some(pid))
        .collect()
}

/// The parent pid from /proc/PID/stat (`pid (comm) state ppid ...`; comm may hold spaces).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_childs_parent_is_read_from_proc() {
        let child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert_eq!(parent_of(child.id()), Some(std::process::id()));
        assert!(children_of(std::process::id()).contains(&child.id()));
        let handle = duct::cmd!("sleep", "30").unchecked().start().unwrap();
        let started = Instant::now();
        signal_tree(&handle, libc::SIGTERM);
        assert!(ended_within(&handle, Duration::from_secs(5)));
        assert!(started.elapsed() < Duration::from_secs(5));
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
}
