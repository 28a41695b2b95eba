//! Whether typed input is complete, and where an error is in it.

use rhai::{Engine, LexError, ParseErrorType, Position};

/// Tells whether typed input is finished, with Rhai's own parser (no strict variables: only the
/// shape of the text matters here).
pub(super) struct Syntax {
    pub(super) engine: Engine,
}

impl Syntax {
    pub(super) fn new() -> Syntax {
        Syntax {
            engine: Engine::new_raw(),
        }
    }

    /// Open brackets or braces, a backtick string, a trailing operator or `\`: more is coming.
    pub(super) fn is_unfinished(&self, text: &str) -> bool {
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with(':') {
            return false;
        }
        if text.ends_with('\\') {
            return true;
        }
        let text = self.join_continued_lines(text);
        let Err(error) = self.engine.compile(&text) else {
            return false;
        };
        match error.err_type() {
            ParseErrorType::UnexpectedEOF => true,
            // A backtick string may span lines; a quoted one may not, so it is an error now.
            ParseErrorType::BadInput(LexError::UnterminatedString) => {
                char_at(&text, error.position()) == Some('`')
            }
            _ => is_past_end(&text, error.position()),
        }
    }

    /// Removes each `\` that ends a line outside a string (inside one, Rhai itself continues the
    /// string): exactly the backslashes Rhai's lexer rejects.
    pub(super) fn join_continued_lines(&self, text: &str) -> String {
        let mut text = text.to_string();
        while let Err(error) = self.engine.compile(&text) {
            let stray_backslash = matches!(
                error.err_type(),
                ParseErrorType::BadInput(LexError::UnexpectedInput(s)) if s == "\\"
            );
            match byte_offset(&text, error.position()) {
                Some(offset) if stray_backslash && text[offset..].starts_with("\\\n") => {
                    text.remove(offset);
                }
                _ => break,
            }
        }
        text
    }
}

/// Where a 1-based line and column (in characters) fall in `text`, in bytes.
pub(super) fn byte_offset(text: &str, position: Position) -> Option<usize> {
    let (line, column) = (position.line()?, position.position()?);
    let line_start: usize = text
        .split('\n')
        .take(line.checked_sub(1)?)
        .map(|l| l.len() + 1)
        .sum();
    let line_text = text.get(line_start..)?.split('\n').next()?;
    line_text
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map(|(i, _)| line_start + i)
}

pub(super) fn char_at(text: &str, position: Position) -> Option<char> {
    text[byte_offset(text, position)?..].chars().next()
}

/// The parser stopped after the last character: it wanted more.
pub(super) fn is_past_end(text: &str, position: Position) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    match (position.line(), position.position()) {
        (Some(line), _) if line > lines.len() => true,
        (Some(line), Some(column)) if line == lines.len() => {
            column > lines[line - 1].chars().count()
        }
        _ => false,
    }
}
