//! Running a recipe (`just apply`) so that no terminal, pipe or signal can cut it or leave it
//! running under the clean-up.
//!
//! - **Apart from ovscript's process group.** Nothing sent to ovscript's group reaches it: not a
//!   Ctrl-C, not `kill -- -PGID`, not `timeout`'s second signal, not a CI runner's SIGTERM, not
//!   the SIGHUP a shell sends its jobs when an SSH session drops. ovscript sends it exactly one
//!   SIGINT per interruption, and none when the terminal is lost (the apply finishes; then the
//!   run restores and stops).
//! - **At a terminal, on a terminal of its own** ([`crate::pty`]): terraform shows and asks as at
//!   the operator's terminal, but the recipe leads its own session, so the operator's terminal
//!   hanging up does not reach it.
//! - **Output through ovscript when it is not a terminal.** A stream that is a pipe or a file is
//!   relayed through a pipe that lives as long as ovscript: the recipe never sees `tee` die
//!   (EPIPE kills terraform mid-apply).
//!
//! Only once the recipe has ended does the script unwind and restore a clearance flag: never
//! under a running apply. A second Ctrl-C (the host's last resort) stops it at once: SIGTERM,
//! then SIGKILL.

use std::io::{IsTerminal, Read};
use std::process::Output;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cancel::Interruption;
use crate::context::{Ctx, LastResort};

/// How long a recipe may take to end after each step of the escalation.
#[derive(Clone, Copy)]
struct Patience {
    /// Whether to send it SIGINT (not when it got the interruption itself).
    send_sigint: bool,
    /// For it to end after the SIGINT, or on its own when none was sent.
    after_sigint: Duration,
    after_sigterm: Duration,
}

/// An interruption (Ctrl-C, SIGTERM): one SIGINT unless the recipe got it from the terminal,
/// then time to stop cleanly (terraform finishes what it started).
const INTERRUPTED: Patience = Patience {
    send_sigint: true,
    after_sigint: Duration::from_secs(600),
    after_sigterm: Duration::from_secs(30),
};

/// The terminal or the journal is lost: nobody asked to stop the recipe, so it finishes.
const LEFT_TO_FINISH: Patience = Patience {
    send_sigint: false,
    after_sigint: Duration::from_secs(6 * 3600),
    after_sigterm: Duration::from_secs(30),
};

/// The process is exiting (a second Ctrl-C): less patience, but still no restore under a
/// running child.
const ON_EXIT: Patience = Patience {
    send_sigint: false,
    after_sigint: Duration::ZERO,
    after_sigterm: Duration::from_secs(5),
};

/// What becomes of a recipe's stdout and stderr.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    /// Shown to the operator (relayed where a stream is not a terminal); stdin passed through.
    Show,
    /// Captured for the script (the expression says so); no terminal.
    Capture,
}

/// A started recipe and what came with it.
pub struct Running {
    handle: Arc<duct::Handle>,
    /// Its process group (its session's, on a terminal of its own).
    group: Option<libc::pid_t>,
    relays: Vec<JoinHandle<()>>,
    /// What the operator types, passed on while it runs.
    input: Option<crate::pty::Input>,
    /// A second Ctrl-C stops it before anything is restored.
    stop_on_exit: LastResort,
}

/// Starts `command` (built with `.unchecked()` and its streams set for `Capture`) as the recipe
/// `what`, apart from ovscript's process group, inheriting the journal's lock (see the module's
/// doc); a second Ctrl-C stops it from then on.
pub fn start(
    ctx: &Ctx,
    what: &str,
    command: duct::Expression,
    streams: Streams,
) -> std::io::Result<Running> {
    let mut command = inheriting(command, ctx.journal.lock_fd());
    // A recipe gets none of ovscript's secrets: an `OVSCRIPT_*` variable that holds one (a token,
    // a password) is not passed on, so a recipe cannot print or send it.
    let secrets = ctx.config.secrets();
    for (name, value) in std::env::vars_os() {
        let holds_a_secret = value
            .to_str()
            .is_some_and(|value| secrets.iter().any(|secret| secret == value));
        if name.to_string_lossy().starts_with("OVSCRIPT_") && holds_a_secret {
            command = command.env_remove(name);
        }
    }
    let mut relays = Vec::new();
    let mut input = None;
    // In a job nobody can answer a recipe's question, even on the pseudo-terminal a runner may
    // give the step (act does): the recipe gets no input, as terraform expects of CI.
    let in_a_job = crate::actions::active();
    let at_terminal = streams == Streams::Show && holds_the_terminal() && !in_a_job;
    if in_a_job {
        command = command.stdin_null();
    }
    if at_terminal {
        let pty = crate::pty::Pty::open()?;
        command = command
            .stdin_file(pty.slave.try_clone()?)
            .stdout_file(pty.slave.try_clone()?)
            .stderr_file(pty.slave);
        relays.push(crate::pty::relay(pty.master.try_clone()?));
        input = Some(crate::pty::Input::forward(pty.master)?);
    } else if streams == Streams::Show {
        if !std::io::stdout().is_terminal() {
            let (reader, writer) = os_pipe::pipe()?;
            command = command.stdout_file(writer);
            relays.push(relay(reader, crate::ui::Stream::Out));
        }
        if !std::io::stderr().is_terminal() {
            let (reader, writer) = os_pipe::pipe()?;
            command = command.stderr_file(writer);
            relays.push(relay(reader, crate::ui::Stream::Err));
        }
    }
    let command = command.before_spawn(move |cmd| {
        use std::os::unix::process::CommandExt;
        if at_terminal {
            // SAFETY: setsid(2) and ioctl(2) only, between fork and exec.
            unsafe {
                cmd.pre_exec(|| crate::pty::become_its_session());
            }
        } else {
            cmd.process_group(0);
        }
        Ok(())
    });
    let handle = command.start()?;
    // The recipe's ends of its pipes or terminal close with `command`: a relay ends with it.
    drop(command);
    // It leads its group (or session): its pid is the group's id.
    let group = handle
        .pids()
        .first()
        .and_then(|pid| libc::pid_t::try_from(*pid).ok());
    let handle = Arc::new(handle);
    Ok(Running {
        stop_on_exit: stop_on_exit(ctx, what, &handle, group),
        handle,
        group,
        relays,
        input,
    })
}

/// Whether ovscript is its terminal's foreground: the operator is there to see and answer.
fn holds_the_terminal() -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    // SAFETY: tcgetpgrp and getpgrp only read this process's terminal and group ids.
    let (foreground, ours) = unsafe { (libc::tcgetpgrp(0), libc::getpgrp()) };
    foreground > 0 && foreground == ours
}

/// Copies a recipe's output to ovscript's own stream, whatever becomes of that stream: the
/// recipe's pipe is always read, so the recipe never blocks or sees EPIPE.
fn relay(mut reader: os_pipe::PipeReader, stream: crate::ui::Stream) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => {
                    crate::ui::write(stream, &buffer[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    })
}

/// Waits for the recipe or an interruption. `None` when it was stopped; when it was left to
/// finish (the terminal or the journal lost), what it came to, for the record: the run stops
/// all the same.
pub fn wait(ctx: &Ctx, what: &str, running: Running) -> Option<std::io::Result<Output>> {
    let handle = running.handle.clone();
    let group = running.group;
    let waiter = handle.clone();
    let mut outcome = ctx.cancel.interruptible(move || waiter.wait().cloned());
    if outcome.is_none() {
        let left_to_finish = matches!(
            ctx.cancel.interruption(),
            Some(Interruption::TerminalLost | Interruption::JournalLost)
        );
        if left_to_finish {
            ctx.ui.notice(&format!(
                "letting `{what}` finish: nobody asked to stop it; the run stops after it"
            ));
            stop(ctx, what, &handle, group, LEFT_TO_FINISH);
            outcome = Some(handle.wait().cloned());
        } else {
            stop(ctx, what, &handle, group, INTERRUPTED);
        }
    }
    // A second Ctrl-C may have stopped the child from its last resort: the process is about to
    // exit there, and this thread must not race it with clean-up of its own.
    while ctx.cancel.is_exiting() {
        std::thread::park();
    }
    running.finish();
    outcome
}

impl Running {
    /// After the recipe ended: the operator's input no longer passed on, its output drained (a
    /// grandchild that keeps its end open is not waited for long).
    fn finish(mut self) {
        drop(self.stop_on_exit);
        if let Some(mut input) = self.input.take() {
            input.stop();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        for relay in self.relays.drain(..) {
            while !relay.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if relay.is_finished() {
                let _ = relay.join();
            }
        }
    }
}

/// A second Ctrl-C exits at once: the child is stopped first (last resorts run newest first, so
/// before the flag is restored).
fn stop_on_exit(
    ctx: &Ctx,
    what: &str,
    handle: &Arc<duct::Handle>,
    group: Option<libc::pid_t>,
) -> LastResort {
    let (ctx2, what, handle) = (ctx.clone(), what.to_string(), handle.clone());
    ctx.cancel
        .last_resort(move || stop(&ctx2, &what, &handle, group, ON_EXIT))
}

/// Escalates until the recipe ended: SIGINT (if `patience` says so), SIGTERM, SIGKILL, each
/// after its bounded wait.
fn stop(
    ctx: &Ctx,
    what: &str,
    handle: &duct::Handle,
    group: Option<libc::pid_t>,
    patience: Patience,
) {
    let steps = [
        (
            patience.send_sigint.then_some((libc::SIGINT, "SIGINT")),
            patience.after_sigint,
        ),
        (Some((libc::SIGTERM, "SIGTERM")), patience.after_sigterm),
    ];
    for (sent, wait) in steps {
        if let Some((number, name)) = sent {
            ctx.ui.notice(&format!(
                "stopping `{what}` ({name}); waiting up to {} for it to end",
                crate::ui::human(wait)
            ));
            signal(handle, group, number);
        }
        if ended_within(handle, wait) {
            return;
        }
    }
    ctx.ui
        .notice(&format!("`{what}` did not stop: killing it (SIGKILL)"));
    signal(handle, group, libc::SIGKILL);
    signal_tree(handle, libc::SIGKILL);
    let _ = handle.wait();
}

/// Sends `signal` as a terminal would: once to every process of the recipe's group, or of its
/// process tree when it has no group known.
fn signal(handle: &duct::Handle, group: Option<libc::pid_t>, signal: libc::c_int) {
    match group {
        // SAFETY: killpg(2) on the recipe's own process group with a valid signal number.
        Some(group) if group > 0 => unsafe {
            libc::killpg(group, signal);
        },
        _ => signal_tree(handle, signal),
    }
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
/// A recipe also starts with SIGHUP and SIGPIPE ignored: a hangup or a dead pipe is ovscript's
/// to handle, not a reason for an apply to die half-way (programs that catch them, as just
/// does, still can).
pub fn inheriting(command: duct::Expression, fd: Option<i32>) -> duct::Expression {
    command.before_spawn(move |cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec, fcntl(2) and signal(2) are async-signal-safe and
        // change only the child's own descriptor flag and dispositions.
        unsafe {
            cmd.pre_exec(move || {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                if let Some(fd) = fd {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
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
