//! `ovscript doc`: the host functions, from their doc comments.

use std::path::Path;

use super::setup::offline_runtime;
use crate::config::Config;
use crate::error::Error;

pub(super) fn doc(
    name: Option<&str>,
    as_json: bool,
    markdown: bool,
    definitions: Option<&Path>,
) -> Result<(), Error> {
    let runtime = offline_runtime(Config::default(), None)?;
    if let Some(dir) = definitions {
        crate::doc::write_definitions(&runtime, dir)?;
        crate::ui::out(&format!("wrote Rhai definitions to {}\n", dir.display()));
        return Ok(());
    }
    let functions = crate::doc::host_functions(&runtime);
    if markdown {
        crate::ui::out(&crate::doc::markdown_table(&functions));
        return Ok(());
    }
    if as_json {
        let selected = crate::doc::select(&functions, name)?;
        let json = serde_json::to_string_pretty(&selected).unwrap_or_default();
        crate::ui::out(&format!("{json}\n"));
        return Ok(());
    }
    crate::ui::out(&crate::doc::render(&functions, name)?);
    Ok(())
}
