//! `confirm`: a yes/no question at the terminal, answered by `--yes`, never assumed. One reader
//! thread reads a line only when a question wants one, so an interrupted question does not
//! swallow the next answer, and between questions the terminal belongs to others.

use std::io::{BufRead, IsTerminal};
use std::sync::{Arc, Mutex};

use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::journal::Event;

/// Asks `question` as `confirm` does (`--yes`, a terminal, never an assumed yes), journaled.
pub fn ask_yes_no(ctx: &Ctx, question: &str) -> HostResult<bool> {
    let (yes, by) = answer(ctx, question)?;
    ctx.record(Event::Confirm {
        question: question.to_string(),
        answer: yes,
        by: by.to_string(),
    });
    Ok(yes)
}

fn answer(ctx: &Ctx, question: &str) -> HostResult<(bool, &'static str)> {
    if ctx.dry_run {
        ctx.ui
            .would(&format!("ask \"{question}\" (a dry run goes on as if yes)"));
        return Ok((true, "dry-run"));
    }
    // Nobody is there to answer, and `--yes` was said to someone who is gone: no change is
    // made after a hangup.
    if ctx.cancel.terminal_lost() {
        ctx.ui
            .notice(&format!("? {question} no (the terminal is lost)"));
        return Ok((false, "terminal-lost"));
    }
    if ctx.yes {
        ctx.ui.line(&format!("? {question} [y/N] yes (--yes)"));
        return Ok((true, "--yes"));
    }
    if !std::io::stdin().is_terminal() {
        return Err(host_error(format!(
            "confirm(\"{question}\") needs an answer, but standard input is not a terminal: run it in a terminal, or pass --yes to answer yes to every question"
        )));
    }
    loop {
        let (read, line) = ask(ctx, &format!("? {} [y/N] ", ctx.redact(question)))?;
        match read {
            Ok(0) => {
                return Err(host_error(format!(
                    "confirm(\"{question}\"): no answer (end of input)"
                )))
            }
            Err(e) => {
                return Err(host_error(format!(
                    "confirm(\"{question}\"): cannot read the answer: {e}"
                )))
            }
            Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok((true, "operator")),
                "" | "n" | "no" => return Ok((false, "operator")),
                _ => {
                    crate::ui::out("Please answer y or n.\n");
                }
            },
        }
    }
}

/// Asks the operator to type `expected` (a run id) to go on: a deliberate act that `--yes`
/// never answers. Read from standard input (a terminal, or what a job pipes in on purpose);
/// journaled.
pub fn ask_to_type(ctx: &Ctx, question: &str, expected: &str) -> HostResult<bool> {
    let typed = if ctx.cancel.terminal_lost() {
        false
    } else {
        let (read, line) = ask(ctx, &format!("? {} ", ctx.redact(question)))?;
        matches!(read, Ok(n) if n > 0) && line.trim() == expected
    };
    ctx.record(Event::Confirm {
        question: question.to_string(),
        answer: typed,
        by: "typed".to_string(),
    });
    Ok(typed)
}

/// Shows `prompt` and reads one line from the terminal, or the interruption if Ctrl-C comes first: a blocked read must
/// not make the operator press Ctrl-C twice (which exits without clean-up).
fn ask(ctx: &Ctx, prompt: &str) -> HostResult<(std::io::Result<usize>, String)> {
    let reader = terminal_reader(ctx);
    let reader = reader.lock().unwrap_or_else(|e| e.into_inner());
    // Lines that arrived before the question was shown are not an answer to it.
    while reader.lines.try_recv().is_ok() {}
    crate::ui::out(prompt);
    // A question interrupted earlier may have left a read waiting: that read serves this one.
    if !reader
        .reading
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        let _ = reader.wanted.send(());
    }
    let mut answer = None;
    ctx.cancel.wait_for(|| {
        answer = match reader.lines.try_recv() {
            Ok(line) => Some(line),
            Err(std::sync::mpsc::TryRecvError::Empty) => None,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => Some((Ok(0), String::new())),
        };
        answer.is_some()
    });
    ctx.check_cancelled()?;
    answer.ok_or_else(|| host_error("no answer was read"))
}

type Line = (std::io::Result<usize>, String);

/// A thread that reads one line from standard input each time one is wanted, and only then:
/// between questions the terminal belongs to others (the REPL's line editor, a recipe).
struct TerminalReader {
    wanted: std::sync::mpsc::Sender<()>,
    lines: std::sync::mpsc::Receiver<Line>,
    /// A read is under way (or asked for).
    reading: Arc<std::sync::atomic::AtomicBool>,
}

fn terminal_reader(ctx: &Ctx) -> &'static Mutex<TerminalReader> {
    static READER: std::sync::OnceLock<Mutex<TerminalReader>> = std::sync::OnceLock::new();
    READER.get_or_init(|| {
        let (wanted, wants) = std::sync::mpsc::channel::<()>();
        let (sender, lines) = std::sync::mpsc::channel();
        let reading = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done_reading = reading.clone();
        let cancel = ctx.cancel.clone();
        std::thread::spawn(move || {
            while wants.recv().is_ok() {
                let mut line = String::new();
                let read = std::io::stdin().lock().read_line(&mut line);
                done_reading.store(false, std::sync::atomic::Ordering::SeqCst);
                let sent = sender.send((read, line));
                cancel.wake();
                if sent.is_err() {
                    return;
                }
            }
        });
        Mutex::new(TerminalReader {
            wanted,
            lines,
            reading,
        })
    })
}
