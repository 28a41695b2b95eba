//! The one error type of the binary: every failure knows the exit code it maps to.

use std::fmt;

/// Exit codes are a contract with `just` recipes and CI jobs that call ovscript.
pub const EXIT_SCRIPT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;
/// ovscript itself failed (a bug): the clean-up ran, the journal says `crashed`.
pub const EXIT_INTERNAL: i32 = 70;

#[derive(Debug)]
pub enum Error {
    /// Bad flags, a missing file, a bad configuration: nothing ran.
    Usage(String),
    /// The script (or a module it imports) does not compile, or `check` found problems: nothing ran.
    Compile(String),
    /// The script ran and failed; the message is already formatted with its location.
    Script(String),
    /// A signal, a lost terminal or a lost journal stopped the run: the message, the exit code
    /// (130 SIGINT, 143 SIGTERM, 129 SIGHUP, 1 the journal).
    Interrupted(String, i32),
    /// ovscript itself failed (a panic): its undo ran.
    Crashed(String),
}

impl Error {
    pub fn code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Compile(_) => EXIT_USAGE,
            Error::Script(_) => EXIT_SCRIPT_FAILED,
            Error::Interrupted(_, code) => *code,
            Error::Crashed(_) => EXIT_INTERNAL,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m)
            | Error::Compile(m)
            | Error::Script(m)
            | Error::Interrupted(m, _)
            | Error::Crashed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// A runbook option or argument the script refuses: the run stops before any step with exit 2,
/// as for a bad flag. Thrown by `usage_error(message)`.
#[derive(Debug, Clone)]
pub struct UsageError(pub String);

/// A system's call that failed, said for the operator: what failed and what to do. Clients (no
/// Rhai in them) return it; in a script it becomes a runtime error, or "interrupted" for Ctrl-C.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Failed(String),
    /// Ctrl-C while waiting: the message says for what.
    Interrupted(String),
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure::Failed(message.into())
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Failed(message) | Failure::Interrupted(message) => message,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Failure {}

impl From<Failure> for Box<rhai::EvalAltResult> {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Failed(message) => host_error(message),
            Failure::Interrupted(message) => {
                rhai::EvalAltResult::ErrorTerminated(message.into(), rhai::Position::NONE).into()
            }
        }
    }
}

/// Errors raised by host functions travel through Rhai as runtime errors carrying this text.
pub type HostResult<T> = Result<T, Box<rhai::EvalAltResult>>;

/// A usage error raised inside a host function (`usage_error`, a bad declaration): the run
/// stops with exit 2, as for a bad flag.
pub fn usage_failure(message: impl Into<String>) -> Box<rhai::EvalAltResult> {
    rhai::EvalAltResult::ErrorRuntime(
        rhai::Dynamic::from(UsageError(message.into())),
        rhai::Position::NONE,
    )
    .into()
}

/// A host-function failure: what failed and what to do, as one message for the operator.
pub fn host_error(message: impl Into<String>) -> Box<rhai::EvalAltResult> {
    rhai::EvalAltResult::ErrorRuntime(message.into().into(), rhai::Position::NONE).into()
}

/// `wait_until` ran out of time: thrown as this type, so that a runbook tells it from any other
/// failure with `is_timeout(e)`, never by the words of its message.
#[derive(Debug, Clone)]
pub struct WaitTimedOut(pub String);

impl WaitTimedOut {
    /// Whether `error` is a wait that ran out of time (however deep it was raised: a rethrow
    /// keeps the value).
    pub fn is(error: &rhai::EvalAltResult) -> bool {
        matches!(error, rhai::EvalAltResult::ErrorRuntime(value, _) if value.is::<WaitTimedOut>())
    }
}
