//! A runbook rehearsed by the real binary, and the world's record of it: what the runbook and
//! team-channel tests judge a deploy by.

use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::test::{Output, Test};

/// A file of this repository (a runbook script), as a path the binary can run.
pub fn repo_file(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// What a rehearsal showed and left: its output, `world.json`, and its scratch checkout.
pub struct Rehearsal {
    pub out: Output,
    pub world: Value,
    pub infra: PathBuf,
}

impl Rehearsal {
    /// A file of the scratch infrastructure checkout, as the rehearsal left it.
    pub fn file(&self, path: &str) -> String {
        std::fs::read_to_string(self.infra.join(path)).unwrap()
    }
}

/// `ovscript run --rehearse=SCENARIO [flags] scripts/RUNBOOK.rhai [options]`: ovscript's flags
/// are `extra` up to a `--`, the runbook's options after it. `None` (the test skips) when just
/// and terraform are not installed.
pub fn rehearse(
    runbook: &str,
    scenario: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Option<Rehearsal> {
    let path = crate::test::path_with(&crate::test::tools_bin()?);
    let mut test = Test::new().env("PATH", &path);
    for (name, value) in env {
        test = test.env(name, value);
    }
    let script = repo_file(&format!("scripts/{runbook}.rhai"));
    let rehearse = format!("--rehearse={scenario}");
    let split = extra.iter().position(|a| *a == "--").unwrap_or(extra.len());
    let mut argv = vec!["run", rehearse.as_str()];
    argv.extend(&extra[..split]);
    argv.push(script.as_str());
    argv.extend(extra.get(split + 1..).unwrap_or_default());
    let out = test.command(&argv);
    let dir = std::fs::read_dir(test.path().join(".ovscript/rehearsals"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let world: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("world.json")).unwrap()).unwrap();
    Some(Rehearsal {
        out,
        world,
        infra: dir.join("infra"),
    })
}
