//! `ovscript check`: scripts, and the ovscript recipes of justfiles, compiled and checked
//! without running.

use std::path::{Path, PathBuf};

use super::setup::offline_runtime;
use super::{load_config, working_dir};
use crate::cli::Common;
use crate::config::Config;
use crate::error::Error;

pub(super) fn check(scripts: &[PathBuf], common: &Common) -> Result<(), Error> {
    let base_dir = working_dir()?;
    let config = load_config(common, &base_dir)?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for script in scripts {
        if let Some(justfile) = justfile_of(script) {
            let (count, found) = check_justfile(&config, &justfile)?;
            checked += count;
            problems.extend(found);
            continue;
        }
        let runtime = offline_runtime(config.clone(), script.parent())?;
        problems.extend(crate::check::check_file(&runtime, script));
        checked += 1;
    }
    if problems.is_empty() {
        crate::ui::out(&format!("ok: {checked} script(s) checked\n"));
        Ok(())
    } else {
        Err(Error::Compile(format!(
            "{}\n{} problem(s) found",
            problems.join("\n"),
            problems.len()
        )))
    }
}

/// The justfile `path` is, or holds (a folder).
fn justfile_of(path: &Path) -> Option<PathBuf> {
    let named = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| crate::embedded::JUSTFILE_NAMES.contains(&n))
    };
    if path.is_dir() {
        return crate::embedded::JUSTFILE_NAMES
            .iter()
            .map(|n| path.join(n))
            .find(|p| p.is_file());
    }
    named(path).then(|| path.to_path_buf())
}

/// Checks each recipe of `justfile` that ovscript runs, at its justfile lines; recipes in other
/// languages are left alone. Returns how many were checked and the problems.
fn check_justfile(config: &Config, justfile: &Path) -> Result<(usize, Vec<String>), Error> {
    let recipes = crate::embedded::recipes_to_check(justfile).map_err(Error::usage)?;
    let mut problems = Vec::new();
    for recipe in &recipes {
        // Each recipe at its own file: the justfile, or a file it imports or a module's.
        let name = recipe.file.display().to_string();
        let dir = recipe
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        crate::diagnostic::label_source(&name, &format!(" (recipe {})", recipe.name));
        let runtime = offline_runtime(config.clone(), Some(&dir))?;
        let text = &recipe.text;
        match runtime.compile(&name, text) {
            Ok(ast) => problems.extend(crate::check::check_compiled(&runtime, &name, &ast)),
            Err(e) => problems.push(
                crate::diagnostic::parse_report(&e, &name)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string(),
            ),
        }
    }
    Ok((recipes.len(), problems))
}
