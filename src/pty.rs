//! A pseudo-terminal of ovscript's own for a recipe run at a terminal (`just apply`, where
//! terraform asks to confirm). The recipe leads a session of its own on it, so nothing that
//! happens to the operator's terminal reaches it: the terminal's Ctrl-C goes to ovscript alone,
//! which sends the recipe exactly one SIGINT; a hangup (an SSH session dropping) sends SIGHUP to
//! ovscript's session, not to the recipe's, and the apply finishes.
//!
//! What the recipe writes is relayed to ovscript's stdout; what the operator types is passed on
//! line by line while the recipe runs (the inner terminal does not echo it again).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread::JoinHandle;

/// The pseudo-terminal's two ends, before the recipe starts.
pub struct Pty {
    pub master: File,
    pub slave: File,
}

impl Pty {
    /// Opens a pseudo-terminal shaped like the operator's (its modes and size), with its own
    /// echo and output processing off: the operator's terminal already echoes what is typed and
    /// turns newlines into line ends.
    pub fn open() -> std::io::Result<Pty> {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors; termios and winsize are read from fd 0 into
        // zeroed structs of the right types and passed by pointer.
        unsafe {
            let mut modes: libc::termios = std::mem::zeroed();
            let have_modes = libc::tcgetattr(0, &mut modes) == 0;
            let mut size: libc::winsize = std::mem::zeroed();
            let have_size = libc::ioctl(0, libc::TIOCGWINSZ, &mut size) == 0;
            if libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            let master = OwnedFd::from_raw_fd(master);
            let slave = OwnedFd::from_raw_fd(slave);
            if have_modes {
                modes.c_lflag &= !(libc::ECHO | libc::ECHONL);
                modes.c_oflag &= !libc::OPOST;
                libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &modes);
            }
            if have_size {
                libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &size);
            }
            // The master is ovscript's alone: a recipe must not inherit it.
            libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
            Ok(Pty {
                master: File::from(master),
                slave: File::from(slave),
            })
        }
    }
}

/// Run in the recipe between fork and exec: a session of its own, the pseudo-terminal (already
/// its stdin) its controlling terminal.
///
/// # Safety
/// Only async-signal-safe calls; for `pre_exec`.
pub unsafe fn become_its_session() -> std::io::Result<()> {
    if libc::setsid() == -1 {
        return Err(std::io::Error::last_os_error());
    }
    if libc::ioctl(0, libc::TIOCSCTTY as _, 0) == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The inner terminal's end-of-file character (its VEOF, copied from the operator's: Ctrl-D).
const END_OF_FILE: u8 = 4;

/// What the operator types, passed on to the recipe while it runs; stopped by `stop`.
pub struct Input {
    wake: Option<os_pipe::PipeWriter>,
    thread: Option<JoinHandle<()>>,
}

impl Input {
    /// Passes each chunk ovscript's stdin gives (a line, at a terminal) to `master`. Reads only
    /// when poll(2) says there is input, so that it stops without taking the next answer.
    pub fn forward(master: File) -> std::io::Result<Input> {
        let (wake_reader, wake) = os_pipe::pipe()?;
        let thread = std::thread::spawn(move || {
            let mut master = master;
            let mut buffer = [0u8; 4096];
            loop {
                let mut watched = [
                    libc::pollfd {
                        fd: 0,
                        events: libc::POLLIN,
                        revents: 0,
                    },
                    libc::pollfd {
                        fd: wake_reader.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    },
                ];
                // SAFETY: poll(2) on two valid pollfds.
                let ready = unsafe { libc::poll(watched.as_mut_ptr(), 2, -1) };
                if ready < 0 {
                    continue;
                }
                if watched[1].revents != 0 {
                    return;
                }
                if watched[0].revents & !libc::POLLIN != 0 {
                    // The operator's terminal hung up: nobody can answer a question any more.
                    // Each end-of-file character is one empty read: the recipe's questions
                    // (terraform's "Enter a value") get no answer, now or later, and it goes on
                    // or stops as it does without a terminal.
                    let _ = master.write_all(&[END_OF_FILE; 64]);
                    return;
                }
                if watched[0].revents & libc::POLLIN == 0 {
                    continue;
                }
                // SAFETY: read(2) from fd 0 into a buffer of its length.
                let read = unsafe { libc::read(0, buffer.as_mut_ptr().cast(), buffer.len()) };
                let chunk: &[u8] = match read {
                    n if n > 0 => &buffer[..n as usize],
                    // End of input (Ctrl-D): the recipe sees its end of file.
                    0 => &[END_OF_FILE],
                    _ => return,
                };
                if master.write_all(chunk).is_err() {
                    return;
                }
            }
        });
        Ok(Input {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Stops passing input on (the recipe ended).
    pub fn stop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies what the recipe writes on its terminal to ovscript's stdout, until every process on
/// it has closed it (the master then reads EIO).
pub fn relay(mut master: File) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        loop {
            match master.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => {
                    crate::ui::write(crate::ui::Stream::Out, &buffer[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    })
}
