//! Turns a Rhai error into what the operator reads: where (file:line:col), the source line with a
//! caret under the column, what failed, and the chain of calls that led there.

use rhai::{Engine, EvalAltResult, Position};

/// The message of the innermost error, without Rhai's position suffix or call chain.
pub fn message_of(error: &EvalAltResult) -> String {
    let inner = innermost(error);
    match inner {
        EvalAltResult::ErrorRuntime(value, _) => {
            if let Some(usage) = value.read_lock::<crate::error::UsageError>() {
                return usage.0.clone();
            }
            if let Some(timeout) = value.read_lock::<crate::error::WaitTimedOut>() {
                return timeout.0.clone();
            }
            match value.clone().into_immutable_string() {
                Ok(text) => text.to_string(),
                Err(_) => format!("thrown: {value}"),
            }
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let key = if what.contains("map") {
                "max_map_size"
            } else if what.contains("rray") {
                "max_array_size"
            } else {
                "max_string_size"
            };
            format!("{what} too large: the script's data grew past the limit (a runaway loop?); raise [limits] {key} in ovscript.toml if this is real work")
        }
        EvalAltResult::ErrorTooManyOperations(_) => {
            "the script ran too many operations (a runaway loop?): it was stopped; raise [limits] max_operations in ovscript.toml if this is real work".into()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "calls nested too deeply (runaway recursion?): raise [limits] max_call_levels if this is real work".into()
        }
        EvalAltResult::ErrorTerminated(value, _) => {
            let why = crate::cancel::process()
                .interruption()
                .unwrap_or(crate::cancel::Interruption::Interrupt)
                .describe();
            match value.clone().into_immutable_string() {
                Ok(what) if what != "interrupted" => format!("{why} {what}"),
                _ => why.into(),
            }
        }
        EvalAltResult::ErrorFunctionNotFound(signature, _) => not_found(signature),
        EvalAltResult::ErrorParsing(rhai::ParseErrorType::LiteralTooLarge(what, max), _) => {
            let key = if what.contains("map") {
                "max_map_size"
            } else if what.contains("rray") {
                "max_array_size"
            } else {
                "max_string_size"
            };
            format!("{what} in the script exceeds the limit ({max}): raise [limits] {key} in ovscript.toml if this is real")
        }
        EvalAltResult::ErrorParsing(rhai::ParseErrorType::ExprTooDeep, _) => {
            "an expression nested too deeply (over 128 levels): split it into smaller ones with `let`".into()
        }
        other => {
            let text = other.to_string();
            match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            }
        }
    }
}

/// Rhai's "Function not found: - (&str | ImmutableString | String, i64)" as a script writer
/// reads it: `no \`-\` takes (string, int)`, with the script's names for the types.
fn not_found(signature: &str) -> String {
    let (name, args) = match signature.split_once(" (") {
        Some((name, args)) => (name, args.strip_suffix(')').unwrap_or(args)),
        None => (signature, ""),
    };
    format!(
        "no function `{name}` takes ({}): check the name and the types of the arguments",
        script_types(args)
    )
}

/// Rust type names as the documentation writes them: `string`, `int`, `float`, `Map`,
/// `Array` (as `ovscript doc` shows signatures).
pub fn script_types(text: &str) -> String {
    let replaced = text
        .replace("&str | ImmutableString | String", "string")
        .replace("ImmutableString", "string")
        .replace("&str", "string")
        .replace("alloc::string::String", "string")
        .replace("rhai::Map", "Map")
        .replace("rhai::Array", "Array");
    replaced
        .split_inclusive([' ', ',', '(', ')', '<', '>', '|'])
        .map(|word| {
            let (bare, tail) = word.split_at(
                word.trim_end_matches([' ', ',', '(', ')', '<', '>', '|'])
                    .len(),
            );
            let named = match bare {
                "i64" | "i32" | "INT" | "usize" | "u64" => "int",
                "f64" | "f32" | "FLOAT" => "float",
                "String" => "string",
                other => other,
            };
            format!("{named}{tail}")
        })
        .collect()
}

/// Whether the error is Ctrl-C unwinding the script (exit 130), however deep it was raised.
pub fn is_interrupt(error: &EvalAltResult) -> bool {
    matches!(innermost(error), EvalAltResult::ErrorTerminated(..))
}

/// Whether the script stopped with `usage_error(...)` (exit 2, like a bad flag).
pub fn is_usage(error: &EvalAltResult) -> bool {
    matches!(innermost(error), EvalAltResult::ErrorRuntime(value, _) if value.is::<crate::error::UsageError>())
}

fn innermost(error: &EvalAltResult) -> &EvalAltResult {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => innermost(inner),
        other => other,
    }
}

/// Where each call on the way to the error happened: (source file, position, what was called).
fn frames(
    error: &EvalAltResult,
    source: &str,
) -> (Vec<(String, Position, String)>, String, Position) {
    let mut frames = Vec::new();
    let mut current_source = source.to_string();
    let mut e = error;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                let what = if name.starts_with("anon$") {
                    "closure".to_string()
                } else {
                    format!("function {name}")
                };
                frames.push((current_source.clone(), *pos, what));
                // Rhai names the source the closure ran under, not where it was written: a
                // closure of the script called from a stdlib function would point at the module.
                if let Some(defined_in) = closure_source(name) {
                    current_source = defined_in;
                } else if !src.is_empty() {
                    current_source = src.clone();
                }
                e = inner;
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                frames.push((current_source.clone(), *pos, format!("import of {module}")));
                current_source = module.clone();
                e = inner;
            }
            other => return (frames, current_source, other.position()),
        }
    }
}

/// What follows `FILE:LINE:COL` for a source: ` (recipe hello)` for a runbook in a justfile.
static SOURCE_LABELS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, String>>,
> = std::sync::LazyLock::new(Default::default);

/// Labels the places of `source` in messages (see `place`).
pub fn label_source(source: &str, label: &str) {
    SOURCE_LABELS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(source.to_string(), label.to_string());
}

/// `FILE:LINE:COL` as the operator reads it, with the source's label: `justfile:4:5 (recipe hello)`.
pub fn place(file: &str, line: usize, col: usize) -> String {
    let label = SOURCE_LABELS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(file)
        .cloned()
        .unwrap_or_default();
    format!("{file}:{line}:{col}{label}")
}

/// Where each closure (`anon$...`) was written, by file; filled as scripts and modules compile.
static CLOSURE_SOURCES: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, String>>,
> = std::sync::LazyLock::new(Default::default);

/// Remembers the file of every closure in `ast`, so that reports point at the right file.
pub fn remember_closures(ast: &rhai::AST) {
    let Some(source) = ast.source() else {
        return;
    };
    let mut sources = CLOSURE_SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    for f in ast.iter_functions().filter(|f| f.name.starts_with("anon$")) {
        sources.insert(f.name.to_string(), source.to_string());
    }
}

pub fn closure_source(name: &str) -> Option<String> {
    if !name.starts_with("anon$") {
        return None;
    }
    CLOSURE_SOURCES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned()
}

/// The full report of a failed script `source` (its file name as given to the engine).
pub fn report(error: &EvalAltResult, source: &str, engine: Option<&Engine>) -> String {
    let (frames, file, pos) = frames(error, source);
    let mut out = String::new();
    let message = message_of(error);
    match (pos.line(), pos.position()) {
        (Some(line), col) => {
            let col = col.unwrap_or(1);
            out.push_str(&format!("error: {}: {message}\n", place(&file, line, col)));
            if let Some(text) = source_line(&file, line) {
                let number = line.to_string();
                out.push_str(&format!(
                    "{} |\n{number} | {text}\n{} | {}^\n",
                    pad(&number),
                    pad(&number),
                    caret_pad(&text, col)
                ));
            }
        }
        _ => out.push_str(&format!("error: {file}: {message}\n")),
    }
    if let (EvalAltResult::ErrorFunctionNotFound(signature, _), Some(engine)) =
        (innermost(error), engine)
    {
        out.push_str(&signature_hint(signature, engine));
    }
    for (src, pos, what) in frames.iter().rev() {
        if let Some(line) = pos.line() {
            out.push_str(&format!(
                "  in {what}, called at {}\n",
                place(src, line, pos.position().unwrap_or(1))
            ));
        }
    }
    out
}

/// The known name nearest to a misspelt one, if it is near enough to be what was meant.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), *c))
        .filter(|(distance, c)| *distance <= 2.max(name.len() / 4) && *distance < c.len())
        .min()
        .map(|(_, c)| c)
}

/// "did you mean" for a call that found no function: the host signatures of that name when
/// its arguments do not fit, else the nearest name there is (the REPL's and a run's alike).
fn signature_hint(not_found: &str, engine: &Engine) -> String {
    let name = not_found.split(['(', ' ']).next().unwrap_or(not_found);
    let signatures = engine.gen_fn_signatures(false);
    let candidates: Vec<&String> = signatures
        .iter()
        .filter(|s| s.split('(').next() == Some(name))
        .collect();
    if candidates.is_empty() {
        // Rhai's own functions too (`len`, `print`...): the nearest name of all.
        let everything = engine.gen_fn_signatures(true);
        let mut names: Vec<&str> = everything
            .iter()
            .filter_map(|s| s.split('(').next())
            .chain(["print", "debug", "type_of"])
            .collect();
        names.sort_unstable();
        names.dedup();
        return closest(name, &names)
            .map(|guess| format!("  did you mean `{guess}`?\n"))
            .unwrap_or_default();
    }
    let mut hint = "  it can be called as:\n".to_string();
    for c in candidates {
        hint.push_str(&format!("    {}\n", script_types(&as_method(c))));
    }
    hint
}

/// `pause(airflow: Airflow, dag_id: string) -> bool` as scripts write it:
/// `airflow.pause(dag_id: string) -> bool` (a host object's method takes it first).
pub fn as_method(signature: &str) -> String {
    // What a plugin function returns on success, as scripts see it: `HostResult<T>` is `T`.
    let signature = match signature.split_once("-> HostResult<") {
        Some((head, ok)) => format!("{head}-> {}", ok.strip_suffix('>').unwrap_or(ok)),
        None => signature.to_string(),
    }
    .replace("r#", "");
    let signature = signature.as_str();
    let Some((name, rest)) = signature.split_once('(') else {
        return signature.to_string();
    };
    let first = rest.split([',', ')']).next().unwrap_or_default();
    match first.split_once(": ") {
        Some((object, kind)) if kind.eq_ignore_ascii_case(object) => {
            let rest = rest[first.len()..].trim_start_matches(',').trim_start();
            format!("{object}.{name}({rest}")
        }
        _ => signature.to_string(),
    }
}

fn source_line(file: &str, line: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .nth(line.checked_sub(1)?)
        .map(|l| l.replace('\t', " "))
}

fn pad(number: &str) -> String {
    " ".repeat(number.len())
}

/// Spaces up to column `col` (1-based, in characters).
fn caret_pad(text: &str, col: usize) -> String {
    text.chars()
        .take(col.saturating_sub(1))
        .map(|_| ' ')
        .collect()
}

/// A report for a syntax error found while compiling `file`.
pub fn parse_report(error: &EvalAltResult, file: &str) -> String {
    report(error, file, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_methods_are_shown_as_methods() {
        assert_eq!(
            as_method("pause(airflow: Airflow, dag_id: string) -> bool"),
            "airflow.pause(dag_id: string) -> bool"
        );
        assert_eq!(
            as_method("version(airflow: Airflow) -> String"),
            "airflow.version() -> String"
        );
        assert_eq!(
            as_method("confirm(question: string) -> bool"),
            "confirm(question: string) -> bool"
        );
    }

    #[test]
    fn a_report_points_at_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.rhai");
        std::fs::write(&file, "let a = 1;\nlet b = a +;\n").unwrap();
        let engine = Engine::new();
        let err: Box<EvalAltResult> = engine
            .compile(std::fs::read_to_string(&file).unwrap())
            .unwrap_err()
            .into();
        let name = file.display().to_string();
        let text = parse_report(&err, &name);
        assert!(text.starts_with(&format!("error: {name}:2:")), "{text}");
        assert!(text.contains("2 | let b = a +;"), "{text}");
        assert!(text.lines().any(|l| l.trim_end().ends_with('^')), "{text}");
    }
}
