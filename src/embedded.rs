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
        // The recipe runs in its justfile's folder, or, with `set working-directory` or
        // `[no-cd]`, below it: the justfile is the nearest one up that has the recipe.
        let justfile = dir.ancestors().find_map(|folder| {
            JUSTFILE_NAMES
                .iter()
                .map(|name| folder.join(name))
                .filter(|path| path.is_file())
                .find(|path| {
                    std::fs::read_to_string(path)
                        .ok()
                        .is_some_and(|text| recipe_header_line(&text, &recipe).is_some())
                })
        })?;
        // Named as the operator sees it from here: `justfile`, or its path when it is above.
        let justfile = justfile
            .strip_prefix(dir)
            .map(Path::to_path_buf)
            .unwrap_or(justfile);
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
            // `deploy := "..."` is a variable of the same name, not the recipe.
            let assignment = rest.trim_start().starts_with(":=");
            !assignment
                && (rest.starts_with(':') || rest.starts_with(' ') || rest.starts_with('\t'))
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

/// A recipe that ovscript runs, as `check` reads it: its name (`tools::deploy` in a module),
/// the file it is written in, and its body at that file's lines.
pub struct RecipeToCheck {
    pub name: String,
    pub file: PathBuf,
    pub text: String,
}

/// The recipes of `justfile` (with those of the files it `import`s and the modules it `mod`s)
/// that run with ovscript, each as a script whose lines are its file's: the recipe's body
/// where it is, blank lines elsewhere; just's `{{...}}` interpolations blanked to `x`.
pub fn recipes_to_check(justfile: &Path) -> Result<Vec<RecipeToCheck>, String> {
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
    let mut found = Vec::new();
    collect(&dump, justfile, &mut found);
    Ok(found)
}

/// The ovscript recipes of one module of the dump (the root, or a `mod`), whose file is `root`.
fn collect(module: &Value, root: &Path, found: &mut Vec<RecipeToCheck>) {
    let sources = sources_of(root, 0);
    let texts: Vec<(PathBuf, String)> = sources
        .iter()
        .filter_map(|file| Some((file.clone(), std::fs::read_to_string(file).ok()?)))
        .collect();
    for (name, recipe) in module["recipes"].as_object().into_iter().flatten() {
        if !runs_with_ovscript(recipe) {
            continue;
        }
        let Some((file, text, header)) = texts
            .iter()
            .find_map(|(file, text)| Some((file, text, recipe_header_line(text, name)?)))
        else {
            continue;
        };
        let label = recipe["namepath"].as_str().unwrap_or(name).to_string();
        found.push(RecipeToCheck {
            name: label,
            file: file.clone(),
            text: body_at_its_lines(text, header),
        });
    }
    for (name, submodule) in module["modules"].as_object().into_iter().flatten() {
        if let Some(file) = texts
            .iter()
            .find_map(|(file, text)| module_file(file, text, name))
        {
            collect(submodule, &file, found);
        }
    }
}

/// `root` and the files it imports (`import 'path'`, `import? 'path'`), theirs too.
fn sources_of(root: &Path, depth: usize) -> Vec<PathBuf> {
    let mut files = vec![root.to_path_buf()];
    let Ok(text) = std::fs::read_to_string(root) else {
        return files;
    };
    if depth > 16 {
        return files;
    }
    let dir = root.parent().unwrap_or(Path::new("."));
    for line in text.lines() {
        let Some(rest) = line
            .trim_start()
            .strip_prefix("import?")
            .or_else(|| line.trim_start().strip_prefix("import"))
        else {
            continue;
        };
        if let Some(path) = quoted(rest) {
            for file in sources_of(&dir.join(path), depth + 1) {
                if !files.contains(&file) {
                    files.push(file);
                }
            }
        }
    }
    files
}

/// The file of module `name` declared in `text` (of `file`): `mod name 'path'`, or just's
/// places for `mod name`: `name.just`, `name/mod.just`, `name/justfile`, `name/.justfile`.
fn module_file(file: &Path, text: &str, name: &str) -> Option<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new("."));
    text.lines().find_map(|line| {
        let rest = line.trim_start();
        let rest = rest
            .strip_prefix("mod?")
            .or_else(|| rest.strip_prefix("mod"))?;
        let rest = rest.strip_prefix([' ', '\t'])?.trim_start();
        let after = rest.strip_prefix(name)?;
        if after.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        if let Some(path) = quoted(after) {
            return Some(dir.join(path));
        }
        [
            format!("{name}.just"),
            format!("{name}/mod.just"),
            format!("{name}/justfile"),
            format!("{name}/.justfile"),
        ]
        .into_iter()
        .map(|candidate| dir.join(candidate))
        .find(|path| path.is_file())
    })
}

/// The text between the first pair of `'` or `"` in `text`.
fn quoted(text: &str) -> Option<&str> {
    let start = text.find(['\'', '"'])?;
    let quote = &text[start..start + 1];
    let rest = &text[start + 1..];
    Some(&rest[..rest.find(quote)?])
}

/// The body of the recipe whose header is line `header` of `text`, at its lines.
fn body_at_its_lines(text: &str, header: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
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
    script
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
