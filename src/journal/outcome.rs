//! How a run, a step, a wait or a REPL line ended, as one type: written in the journal as its
//! word (`ok`, `terminal-lost`), read back from journals of any version (a word this version does
//! not know is `Unknown`, never a damaged journal), and never recognised by comparing text.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    /// It failed (the message is beside it).
    Error,
    /// A usage error: nothing ran.
    Usage,
    /// Found finished in the run it resumes.
    Skipped,
    /// `wait_until` ran out of time.
    Timeout,
    /// SIGINT (Ctrl-C), or a step a signal cut short.
    Interrupted,
    /// SIGTERM.
    Terminated,
    /// The terminal hung up (SIGHUP).
    TerminalLost,
    /// The journal could not be written.
    JournalLost,
    /// ovscript itself failed (a panic); its undo ran.
    Crashed,
    /// A word written by another version.
    #[serde(other)]
    Unknown,
}

impl Outcome {
    /// The journal's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Usage => "usage",
            Outcome::Skipped => "skipped",
            Outcome::Timeout => "timeout",
            Outcome::Interrupted => "interrupted",
            Outcome::Terminated => "terminated",
            Outcome::TerminalLost => "terminal-lost",
            Outcome::JournalLost => "journal-lost",
            Outcome::Crashed => "crashed",
            Outcome::Unknown => "unknown",
        }
    }

    /// The outcome whose word is `word` (`Unknown` for none).
    pub fn of(word: &str) -> Outcome {
        serde_json::from_value(serde_json::Value::String(word.to_string()))
            .unwrap_or(Outcome::Unknown)
    }

    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: a summary's `{:<11}` column must line up.
        f.pad(self.word())
    }
}

/// Tests and readers may still say `outcome == "ok"`: the word is compared, not free text.
impl PartialEq<str> for Outcome {
    fn eq(&self, word: &str) -> bool {
        self.word() == word
    }
}

impl From<&str> for Outcome {
    fn from(word: &str) -> Outcome {
        Outcome::of(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_is_its_word_both_ways() {
        for outcome in [
            Outcome::Ok,
            Outcome::Error,
            Outcome::Usage,
            Outcome::Skipped,
            Outcome::Timeout,
            Outcome::Interrupted,
            Outcome::Terminated,
            Outcome::TerminalLost,
            Outcome::JournalLost,
            Outcome::Crashed,
        ] {
            let json = serde_json::to_value(outcome).unwrap();
            assert_eq!(json, serde_json::Value::String(outcome.word().into()));
            assert_eq!(Outcome::of(outcome.word()), outcome);
        }
        assert_eq!(Outcome::of("exploded"), Outcome::Unknown);
        let read: Outcome = serde_json::from_str("\"from-the-future\"").unwrap();
        assert_eq!(read, Outcome::Unknown);
        assert_eq!(format!("[{:<7}]", Outcome::Ok), "[ok     ]");
    }
}
