//! Runbooks written straight into a justfile recipe, with ovscript as the interpreter (a
//! `#!/usr/bin/env ovscript` shebang or `[script("ovscript")]`). just writes the recipe's body to
//! a temporary file (`/tmp/just-XXXX/RECIPE`, padded with empty lines so that each line keeps its
//! number in the justfile, the indentation removed) and runs `INTERPRETER FILE ARGS...` from the
//! justfile's folder. Here that file is recognised, and the runbook is named by its justfile and
//! recipe: errors point at `justfile:LINE:COL (recipe NAME)` and show the justfile's line, the
//! journal knows it across runs although the temporary path changes, and `check` finds the
//! ovscript recipes of a justfile to check them.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The names just looks for, in its order.
pub const JUSTFILE_NAMES: &[&str] = &["justfile", "Justfile", ".justfile"];

/// A recipe's body run from a temporary file.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// The justfile, as it is shown (relative to the working directory: `justfile`).
    pub justfile: PathBuf,
    pub recipe: String,
}

impl Embedded {
    /// Whether `script` is just's temporary file of a recipe of the justfile in `dir`.
    pub fn detect(script: &Path, dir: &Path) -> Option<Embedded> {
        let folder = script.parent()?.file_name()?.to_str()?;
        if !folder.starts_with("just") {
            return None;
        }
        let name = script.file_name()?.to_str()?;
        // `[extension(".rhai")]` names it `hello.rhai`.
        let recipe = name.split('.').next()?.to_string();
        let justfile = JUSTFILE_NAMES
            .iter()
            .map(PathBuf::from)
            .find(|name| dir.join(name).is_file())?;
        let text = std::fs::read_to_string(dir.join(&justfile)).ok()?;
        recipe_header_line(&text, &recipe)?;
        Some(Embedded { justfile, recipe })
    }

    /// How errors and the journal name the runbook's source: the justfile.
    pub fn source_name(&self) -> String {
        self.justfile.display().to_string()
    }

    /// What follows `FILE:LINE:COL` in messages.
    pub fn label(&self) -> String {
        format!(" (recipe {})", self.recipe)
    }

    /// The runbook's identity in the journal: the justfile's absolute path and the recipe.
    pub fn runbook_id(&self, dir: &Path) -> String {
        let path = std::fs::canonicalize(dir.join(&self.justfile))
            .unwrap_or_else(|_| dir.join(&self.justfile));
        format!("{}#{}", path.display(), self.recipe)
    }

    /// The body as just wrote it, each line given back the indentation it has in the justfile,
    /// so that columns are the justfile's too.
    pub fn reindent(&self, body: &str, dir: &Path) -> String {
        let justfile = std::fs::read_to_string(dir.join(&self.justfile)).unwrap_or_default();
        let lines: Vec<&str> = justfile.lines().collect();
        body.lines()
            .enumerate()
            .map(|(i, line)| {
                // Line i of the file is line i of the justfile: just pads the body to keep it so.
                let indent = match lines.get(i) {
                    Some(jl) if !line.trim().is_empty() => &jl[..jl.len() - jl.trim_start().len()],
                    _ => "",
                };
                format!("{indent}{line}\n")
            })
            .collect()
    }
}

/// The 0-based line of `recipe`'s header in a justfile (`name params...:` at the line start).
fn recipe_header_line(text: &str, recipe: &str) -> Option<usize> {
    text.lines().position(|line| {
        let line = line.strip_prefix('@').unwrap_or(line);
        line.strip_prefix(recipe).is_some_and(|rest| {
            rest.starts_with(':') || rest.starts_with(' ') || rest.starts_with('\t')
        }) && line.contains(':')
    })
}

/// Whether a recipe (from `just --dump --dump-format json`) runs its body with ovscript: a
/// shebang naming ovscript, or `[script("ovscript", ...)]`.
pub fn runs_with_ovscript(recipe: &Value) -> bool {
    let by_script = recipe["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["script"]["command"].as_str())
        .any(is_ovscript);
    let shebang = recipe["body"][0][0].as_str().unwrap_or_default();
    let by_shebang = shebang.starts_with("#!")
        && shebang
            .trim_start_matches("#!")
            .split_whitespace()
            .any(is_ovscript);
    by_script || by_shebang
}

fn is_ovscript(word: &str) -> bool {
    Path::new(word).file_name().and_then(|n| n.to_str()) == Some("ovscript")
}

/// The ovscript recipes of `justfile` (run with just in its folder) as scripts to check: each
/// body at its justfile lines, indentation kept, just's `{{...}}` interpolations blanked (a
/// value only known when just runs it). Returns (recipe, text).
pub fn recipes_to_check(justfile: &Path) -> Result<Vec<(String, String)>, String> {
    let dir = match justfile.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let output = std::process::Command::new("just")
        .arg("--justfile")
        .arg(justfile)
        .args(["--dump", "--dump-format", "json"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run `just --dump` for {}: {e}", justfile.display()))?;
    if !output.status.success() {
        return Err(format!(
            "just cannot read {}: {}",
            justfile.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let dump: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cannot read `just --dump --dump-format json` ({e})"))?;
    let text = std::fs::read_to_string(justfile)
        .map_err(|e| format!("cannot read {}: {e}", justfile.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut scripts = Vec::new();
    for (name, recipe) in dump["recipes"].as_object().into_iter().flatten() {
        if !runs_with_ovscript(recipe) {
            continue;
        }
        let Some(header) = recipe_header_line(&text, name) else {
            continue;
        };
        let mut script = String::new();
        for _ in 0..=header {
            script.push('\n');
        }
        for (i, line) in lines.iter().enumerate().skip(header + 1) {
            let body_line = !line.trim().is_empty() && line.starts_with([' ', '\t']);
            if !body_line && !line.trim().is_empty() {
                break;
            }
            // The shebang is just's, not the script's (just drops it from what it runs too).
            if i == header + 1 && line.trim_start().starts_with("#!") {
                script.push('\n');
                continue;
            }
            script.push_str(&blank_interpolations(line));
            script.push('\n');
        }
        scripts.push((name.clone(), script));
    }
    Ok(scripts)
}

/// `{{name}}` replaced by as many `x` (inside a string it stays a string of the same width).
fn blank_interpolations(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&"x".repeat(end + 2));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// A `#!` first line is just's (or the system's): blanked, so that line numbers stay.
pub fn strip_shebang(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with("#!") {
        let rest = text.find('\n').map_or("", |i| &text[i..]);
        std::borrow::Cow::Owned(rest.to_string())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shebang_line_is_blanked_and_lines_keep_their_numbers() {
        assert_eq!(
            strip_shebang("#!/usr/bin/env ovscript\nprint(1);\n"),
            "\nprint(1);\n"
        );
        assert_eq!(strip_shebang("print(1);"), "print(1);");
    }

    #[test]
    fn recipes_are_found_by_their_header() {
        let text = "set positional-arguments\n\nhello name=\"world\":\n    #!/usr/bin/env ovscript\n\n[script(\"ovscript\")]\nstatus *args:\n    x\n";
        assert_eq!(recipe_header_line(text, "hello"), Some(2));
        assert_eq!(recipe_header_line(text, "status"), Some(6));
        assert_eq!(recipe_header_line(text, "hell"), None);
    }

    #[test]
    fn interpolations_keep_their_width() {
        assert_eq!(
            blank_interpolations("info(`hello {{name}}`);"),
            "info(`hello xxxxxxxx`);"
        );
    }

    #[test]
    fn ovscript_recipes_are_told_from_others() {
        let shebang: Value =
            serde_json::json!({"attributes": [], "body": [["#!/usr/bin/env -S ovscript run"]]});
        let script: Value = serde_json::json!({"attributes": [{"script": {"command": "ovscript", "arguments": []}}], "body": [["x"]]});
        let python: Value =
            serde_json::json!({"attributes": [], "body": [["#!/usr/bin/env python3"]]});
        assert!(runs_with_ovscript(&shebang));
        assert!(runs_with_ovscript(&script));
        assert!(!runs_with_ovscript(&python));
    }
}
