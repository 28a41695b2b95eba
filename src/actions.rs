//! ovscript in a GitHub Actions job (`GITHUB_ACTIONS=true`): its workflow commands (a step's
//! log group, an error as an annotation at the script's line, a warning as one, a secret masked
//! before its first use) and its files (the job summary in `$GITHUB_STEP_SUMMARY`, the outputs in
//! `$GITHUB_OUTPUT`). <https://docs.github.com/actions/reference/workflow-commands-for-github-actions>

use std::io::Write;

/// Whether this process runs as a step of a GitHub Actions job.
pub fn active() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// A command's message, escaped as the runner reads it (`%`, CR, LF).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value (`file=`, `title=`), escaped as the runner reads it.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::add-mask::`: the runner hides `secret` in every later line of the job's log. To be
/// written as it is (the runner must see it to hide it), never through the redactor.
pub fn mask(secret: &str) -> String {
    format!("::add-mask::{}", data(secret))
}

pub fn group(title: &str) -> String {
    format!("::group::{}", data(title))
}

pub fn end_group() -> &'static str {
    "::endgroup::"
}

pub fn warning(message: &str) -> String {
    format!("::warning::{}", data(message))
}

/// An error annotation of the failure `report` (`error: FILE:LINE:COL: message...`): at that
/// place of the script when the report names one.
pub fn error(report: &str) -> String {
    let first = report.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut parts = first.splitn(4, ':');
    let (file, line, col, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
    let numbers = line
        .zip(col)
        .and_then(|(l, c)| Some((l.trim().parse::<u64>().ok()?, c.trim().parse::<u64>().ok()?)));
    match (file, numbers, rest) {
        (Some(file), Some((line, col)), Some(message)) => format!(
            "::error file={},line={line},col={col},title=ovscript::{}",
            property(file),
            data(message.trim())
        ),
        _ => format!("::error title=ovscript::{}", data(first.trim())),
    }
}

/// Appends `text` to the file the runner named in the variable `variable`, if it is set.
fn append(variable: &str, text: &str) -> Result<(), String> {
    let Some(path) = std::env::var_os(variable) else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {variable} ({}): {e}", path.to_string_lossy()))
}

/// Adds `markdown` to the job's summary page.
pub fn summary(markdown: &str) -> Result<(), String> {
    append("GITHUB_STEP_SUMMARY", markdown)
}

/// Sets the step's outputs; every value in the multi-line form, with a delimiter that appears
/// in none of them.
pub fn outputs(pairs: &[(&str, String)]) -> Result<(), String> {
    let mut text = String::new();
    for (name, value) in pairs {
        let delimiter = delimiter_for(value);
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    append("GITHUB_OUTPUT", &text)
}

/// `ghadelimiter_` and random hex, as the runner's own toolkit does: no value can end it early.
fn delimiter_for(value: &str) -> String {
    loop {
        let mut bytes = [0u8; 12];
        let random = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
        if random.is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            bytes[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let delimiter = format!("ghadelimiter_{hex}");
        if !value.contains(&delimiter) {
            return delimiter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_escape_what_the_runner_would_misread() {
        assert_eq!(warning("50% done\nnext"), "::warning::50%25 done%0Anext");
        assert_eq!(
            group("[3] Bump, then apply"),
            "::group::[3] Bump, then apply"
        );
        assert_eq!(
            error("error: scripts/catalog.rhai:12:5: the apply failed: exit 1\n  |\n12 | x"),
            "::error file=scripts/catalog.rhai,line=12,col=5,title=ovscript::the apply failed: exit 1"
        );
        assert_eq!(
            error("error: cannot read ovscript.toml"),
            "::error title=ovscript::cannot read ovscript.toml"
        );
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn a_delimiter_is_in_no_value() {
        let value = "line one\nghadelimiter_\nline three";
        let delimiter = delimiter_for(value);
        assert!(delimiter.starts_with("ghadelimiter_") && delimiter.len() == 13 + 24);
        assert!(!value.contains(&delimiter));
        assert_ne!(delimiter_for(value), delimiter);
    }
}
