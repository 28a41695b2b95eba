//! Command lines as a person would type them, for messages and `would:` lines only: commands
//! themselves always run with an argv, never through a shell.

/// Words as a person would type them in a shell, for messages and `would:` lines only: commands
/// themselves always run with an argv.
pub fn shell_words<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    words
        .into_iter()
        .map(|word| shell_quoted(word.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quoted(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
