//! The house rules that a reader of one file cannot see: dependencies point one way (no import
//! cycle between source files), and no source file grows past what one person reads in a sitting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's text without its `#[cfg(test)]` items (tests may use anything).
fn non_test_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut kept = String::new();
    let mut skipping_from_indent: Option<usize> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        if let Some(level) = skipping_from_indent {
            // The item ends with a closing brace at its own indentation.
            if indent == level && line.trim_start().starts_with('}') {
                skipping_from_indent = None;
            }
            continue;
        }
        if line.trim() == "#[cfg(test)]" {
            // `mod tests;` on one line, or a block to its closing brace.
            if let Some(next) = lines.next() {
                if !next.trim_end().ends_with(';') {
                    skipping_from_indent = Some(indent);
                }
            }
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// The source file a `crate::a::b` path names: `src/a/b.rs`, `src/a/b/mod.rs`, else `a`'s.
fn file_of(segments: &[&str]) -> Option<PathBuf> {
    let src = src();
    for n in (1..=segments.len()).rev() {
        let base = segments[..n].iter().collect::<PathBuf>();
        for candidate in [
            src.join(&base).with_extension("rs"),
            src.join(&base).join("mod.rs"),
        ] {
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Which files each file names with `crate::...` (outside tests).
fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph = BTreeMap::new();
    for file in files {
        let text = non_test_text(&file);
        let mut uses = BTreeSet::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            // `use crate::{a, b::c}` lists: each name after the brace.
            if let Some(listed) = rest.strip_prefix('{') {
                let list: String = listed.chars().take_while(|c| *c != '}').collect();
                for item in list.split(',') {
                    let item_segments: Vec<&str> = item.trim().split("::").collect();
                    if let Some(target) = file_of(&item_segments) {
                        uses.insert(target);
                    }
                }
                continue;
            }
            if let Some(target) = file_of(&segments) {
                uses.insert(target);
            }
        }
        uses.remove(&file);
        graph.insert(file, uses);
    }
    graph
}

/// One cycle through `start`, if any: a depth-first search over the graph.
fn cycle_from(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, start: &Path) -> Option<Vec<PathBuf>> {
    fn visit(
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        node: &Path,
        start: &Path,
        path: &mut Vec<PathBuf>,
        seen: &mut BTreeSet<PathBuf>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if visit(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_path_buf()];
    let mut seen = BTreeSet::new();
    visit(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_import_cycle_between_source_files() {
    let graph = graph();
    let src = src();
    let cycles: BTreeSet<String> = graph
        .keys()
        .filter_map(|file| cycle_from(&graph, file))
        .map(|cycle| {
            let mut names: Vec<String> = cycle
                .iter()
                .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
                .collect();
            // The same cycle from each of its files: show it from its smallest name.
            let smallest = names
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| (*n).clone())
                .unwrap()
                .0;
            names.rotate_left(smallest);
            names.push(names[0].clone());
            names.join(" -> ")
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between source files (dependencies must point one way):\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}
#[test]
fn no_source_file_is_over_700_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .filter_map(|f| {
            let lines = non_test_text(f).lines().count();
            (lines > 700).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these along their seams:\n{}",
        long.join("\n")
    );
}

/// A system's client, its models and the REST core speak to the system only: no Rhai in them, so that they can be
/// used and tested without an engine, and the binding is the one place scripts meet them.
#[test]
fn clients_and_models_know_nothing_of_rhai() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    // Everything of a system but its binding (`mod.rs`), and the REST core they share.
    let clients: Vec<&PathBuf> = files
        .iter()
        .filter(|f| {
            let in_system = ["airflow", "github", "sentry", "registry"]
                .iter()
                .any(|system| f.starts_with(src().join(system)));
            (in_system && !f.ends_with("mod.rs")) || f.starts_with(src().join("rest"))
        })
        .collect();
    for system in ["airflow", "github", "sentry", "registry"] {
        for file in ["client.rs", "model.rs"] {
            let path = src().join(system).join(file);
            assert!(clients.contains(&&path), "{} is missing", path.display());
        }
    }
    let with_rhai: Vec<String> = clients
        .iter()
        .filter(|f| {
            let text = non_test_text(f);
            // `Shared::of(context)` in the REST core is the one bridge from the run's context.
            let bridge = f.ends_with("rest/mod.rs");
            text.contains("rhai")
                || text.contains("HostResult")
                || (!bridge && text.contains("crate::context"))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        with_rhai.is_empty(),
        "these clients or models use Rhai or the run's context (take `rest::Shared`, answer `error::Failure`):\n{}",
        with_rhai.join("\n")
    );
}
