//! `--rehearse[=SCENARIO]`: the whole runbook against a simulated world on this machine — fake
//! Airflow, Sentry, GitHub and Slack on 127.0.0.1 (`crate::world`), and a scratch copy of an
//! infrastructure repository whose justfile runs the real terraform — then what changed, and
//! what the team's channel was told.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;
use crate::error::Error;
use crate::world::{Scenario, World};

/// Waits in a rehearsal run this many times faster than they say.
pub const CLOCK_SPEED: f64 = 120.0;

/// The template infrastructure repository, built into the binary so rehearsals work anywhere.
const TEMPLATE: &[(&str, &str)] = &[
    ("justfile", include_str!("../templates/infra/justfile")),
    (".gitignore", include_str!("../templates/infra/.gitignore")),
    (
        "environments/prod/catalog-airflow.tf",
        include_str!("../templates/infra/environments/prod/catalog-airflow.tf"),
    ),
    (
        "environments/prod/ingestion-server.tf",
        include_str!("../templates/infra/environments/prod/ingestion-server.tf"),
    ),
    (
        "environments/dev/ingestion-server.tf",
        include_str!("../templates/infra/environments/dev/ingestion-server.tf"),
    ),
    (
        "modules/services/catalog-airflow/main.tf",
        include_str!("../templates/infra/modules/services/catalog-airflow/main.tf"),
    ),
    (
        "modules/services/ingestion-server/main.tf",
        include_str!("../templates/infra/modules/services/ingestion-server/main.tf"),
    ),
];

pub struct Rehearsal {
    pub scenario: Scenario,
    pub world: World,
    /// `.ovscript/rehearsals/<run-id>/`: the world's record, kept for the operator to look at.
    pub dir: PathBuf,
    pub infra: PathBuf,
    initial_commit: String,
}

pub fn parse_scenario(name: &str) -> Result<Scenario, Error> {
    name.parse::<Scenario>()
        .map_err(|e| Error::usage(format!("--rehearse: {e}")))
}

impl Rehearsal {
    /// Starts the world, lays out the scratch infrastructure repository under `dir`, and points
    /// `config` at both.
    pub fn start(
        scenario: Scenario,
        dir: PathBuf,
        config: &mut Config,
    ) -> Result<Rehearsal, Error> {
        let world = World::start_with(scenario, faults_from_env()?, Default::default())
            .map_err(|e| Error::usage(format!("cannot start the simulated world: {e}")))?;
        let infra = dir.join("infra");
        let initial_commit = lay_out_infra(&infra, &dir.join("origin.git"))?;
        point_config_at(config, &world, &infra);
        // The runbooks commit in the scratch repository: give git an identity where none is set.
        for (name, value) in [
            ("GIT_AUTHOR_NAME", "ovscript rehearsal"),
            ("GIT_AUTHOR_EMAIL", "rehearsal@ovscript.invalid"),
            ("GIT_COMMITTER_NAME", "ovscript rehearsal"),
            ("GIT_COMMITTER_EMAIL", "rehearsal@ovscript.invalid"),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
        prefer_project_tools(&dir);
        // `just bump` points each service at the image of the release the runbook publishes.
        for (prefix, service) in [
            ("catalog-", "CATALOG_AIRFLOW"),
            ("ingestion_server-", "INGESTION_SERVER"),
        ] {
            if let Some(tag) = world.draft_tag(prefix) {
                let image = format!("rel-{}", &tag[prefix.len()..]);
                std::env::set_var(format!("OVSCRIPT_REHEARSE_IMAGE_TAG_{service}"), image);
            }
        }
        if scenario == Scenario::ApplyFails {
            // Read by the template justfile's `apply` recipe.
            std::env::set_var("OVSCRIPT_REHEARSE_APPLY_FAILS", "1");
        }
        if scenario == Scenario::AirflowUpgrade {
            // The deploy that upgrades Airflow is `just apply prod catalog-airflow`, which runs
            // here, in the scratch repository, not in the world. Its recipe records every apply
            // in .rehearsal/recipes.jsonl (the report reads it too); the world reads the same
            // record before each Airflow request, so the first call after a successful
            // production apply meets Airflow 3: no watcher thread, and no call from the recipe
            // back to the world.
            let record = infra.join(RECIPES);
            world.upgrade_airflow_when(move || production_airflow_applied(&record));
        }
        Ok(Rehearsal {
            scenario,
            world,
            dir,
            infra,
            initial_commit,
        })
    }

    /// What changed in the world: state-changing API calls, files, recipes, and the posts to
    /// Slack. Also written to `world.json` beside the scratch repository, for tests and for the
    /// curious.
    pub fn report(&self) -> String {
        let changes = self.world.changes();
        let posts = self.world.slack_posts();
        let recipes = self.recipes();
        let files = self.changed_files();
        let record = json!({
            "scenario": self.scenario.to_string(),
            "changes": changes,
            "recipes": recipes,
            "files": files,
            "requests": self.world.requests().iter().map(|r| json!({
                "service": r.service, "method": r.method,
                // A webhook's path is its secret: the world's is no exception.
                "path": if r.service == "slack" { "***" } else { r.path.as_str() },
                "query": r.query, "body": r.body, "status": r.status,
            })).collect::<Vec<_>>(),
            "infra": self.infra,
            "paused": self.paused(),
            "dispatches": self.world.dispatches(),
            "approved_prs": self.world.approved_prs(),
            "opened_prs": self.world.opened_prs(),
            "slack_posts": posts,
        });
        let _ = std::fs::write(
            self.dir.join("world.json"),
            serde_json::to_string_pretty(&record).unwrap_or_default(),
        );

        let mut out = format!(
            "\nrehearsal `{}`: what changed in the simulated world\n",
            self.scenario
        );
        section(
            &mut out,
            "API calls that changed state",
            changes.iter().map(String::to_string).collect(),
        );
        section(&mut out, "files", files);
        section(
            &mut out,
            "recipes",
            recipes.iter().map(describe_recipe).collect(),
        );
        // A post of several lines keeps them together under its first.
        section(
            &mut out,
            "posts to Slack",
            posts.iter().map(|p| p.replace('\n', "\n      ")).collect(),
        );
        out.push_str(&format!("  (kept in {})\n", self.dir.display()));
        out
    }

    /// Whether each DAG a runbook may pause is paused now.
    fn paused(&self) -> serde_json::Map<String, Value> {
        [
            "image_data_refresh",
            "audio_data_refresh",
            "flickr_workflow",
            "production_image_data_refresh",
            "production_audio_data_refresh",
        ]
        .iter()
        .map(|dag| (dag.to_string(), json!(self.world.dag_paused(dag))))
        .collect()
    }

    fn recipes(&self) -> Vec<Value> {
        recipes(&self.infra.join(RECIPES))
    }

    /// `path: +line / -line` for every file whose content differs from the initial commit.
    fn changed_files(&self) -> Vec<String> {
        let Ok(diff) = git(
            &self.infra,
            &["diff", "--unified=0", "--no-color", &self.initial_commit],
        ) else {
            return vec!["(cannot read the changes: git failed)".into()];
        };
        let mut files = Vec::new();
        let mut current = String::new();
        for line in diff.lines() {
            if let Some(path) = line.strip_prefix("+++ b/") {
                current = path.to_string();
            } else if (line.starts_with('+') || line.starts_with('-'))
                && !line.starts_with("+++")
                && !line.starts_with("---")
            {
                files.push(format!("{current}: {}", line.trim()));
            }
        }
        files
    }
}

/// Where the template justfile records each recipe run, one JSON line each, in the scratch
/// repository.
const RECIPES: &str = ".rehearsal/recipes.jsonl";

/// The recipe runs recorded so far.
fn recipes(record: &Path) -> Vec<Value> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Whether `just apply prod catalog-airflow` has succeeded: the deploy that, in scenario
/// `airflow-upgrade`, brings Airflow 3.
fn production_airflow_applied(record: &Path) -> bool {
    recipes(record).iter().any(|r| {
        r["recipe"] == "apply"
            && r["env"] == "prod"
            && r["service"] == "catalog-airflow"
            && r["code"] == 0
    })
}

/// The variable through which scenario tests give a rehearsal's world faults, as JSON.
pub const FAULTS_VAR: &str = "OVSCRIPT_TEST_WORLD_FAULTS";

/// The faults of `OVSCRIPT_TEST_WORLD_FAULTS` (none when it is not set).
fn faults_from_env() -> Result<crate::world::Faults, Error> {
    match std::env::var(FAULTS_VAR) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::usage(format!("{FAULTS_VAR}: not the world's faults: {e}"))),
        Err(_) => Ok(Default::default()),
    }
}

fn section(out: &mut String, title: &str, lines: Vec<String>) {
    out.push_str(&format!("  {title}:\n"));
    if lines.is_empty() {
        out.push_str("    (none)\n");
    }
    for line in lines {
        out.push_str(&format!("    {line}\n"));
    }
}

fn describe_recipe(recipe: &Value) -> String {
    let name = recipe["recipe"].as_str().unwrap_or("?");
    let target = format!(
        "{} {}",
        recipe["env"].as_str().unwrap_or("?"),
        recipe["service"].as_str().unwrap_or("?")
    );
    match name {
        "apply" => {
            let flag = match &recipe["flag"] {
                Value::Bool(flag) => format!("clearance flag {flag}"),
                _ => "no clearance flag".to_string(),
            };
            format!("just apply {target}: {flag}, exit code {}", recipe["code"])
        }
        "bump" => format!(
            "just bump {target}: image {}",
            recipe["tag"].as_str().unwrap_or("?")
        ),
        other => format!("just {other} {target}"),
    }
}

/// `just` and `terraform` installed by tools/install-tools.sh into the project's `.tools/`
/// (the rehearsal runs in `<project>/.ovscript/rehearsals/<id>`) come first on PATH.
fn prefer_project_tools(rehearsal_dir: &Path) {
    let Some(project) = rehearsal_dir.ancestors().nth(3) else {
        return;
    };
    let tools = project.join(".tools/venv/bin");
    if tools.join("just").exists() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let joined =
            std::env::join_paths(std::iter::once(tools).chain(std::env::split_paths(&path)));
        if let Ok(joined) = joined {
            std::env::set_var("PATH", joined);
        }
    }
}

fn point_config_at(config: &mut Config, world: &World, infra: &Path) {
    let creds = world.credentials();
    config.airflow.url = Some(world.airflow_url());
    config.airflow.user = Some(creds.airflow_user.clone());
    config.airflow.password = Some(creds.airflow_password.clone());
    config.sentry.url = Some(world.sentry_url());
    config.sentry.org = Some(world.sentry_org().to_string());
    config.sentry.project = Some(world.sentry_project().to_string());
    config.sentry.token = Some(creds.sentry_token.clone());
    config.github.url = Some(world.github_url());
    config.github.repo = Some(world.github_repo().to_string());
    config.github.infra_repo = Some(world.github_infra_repo().to_string());
    config.github.token = Some(creds.github_token.clone());
    config.registry.url = Some(world.registry_url());
    config.slack.webhook = Some(world.slack_url());
    config.infra.dir = Some(infra.to_path_buf());
}

/// Writes the template into `infra`, makes it a git repository with one commit and a bare
/// `origin` to push to; returns the initial commit.
fn lay_out_infra(infra: &Path, origin: &Path) -> Result<String, Error> {
    for (path, text) in TEMPLATE {
        let file = infra.join(path);
        std::fs::create_dir_all(file.parent().unwrap_or(infra))
            .and_then(|_| std::fs::write(&file, text))
            .map_err(|e| {
                Error::usage(format!(
                    "cannot write the rehearsal repository at {}: {e}",
                    file.display()
                ))
            })?;
    }
    let setup = || -> Result<String, String> {
        git(infra, &["init", "--quiet", "--initial-branch=main"])?;
        git(infra, &["add", "--all"])?;
        git(
            infra,
            &[
                "commit",
                "--quiet",
                "--message",
                "The infrastructure before the rehearsal",
            ],
        )?;
        git(
            Path::new("."),
            &["init", "--quiet", "--bare", &origin.to_string_lossy()],
        )?;
        git(
            infra,
            &["remote", "add", "origin", &origin.to_string_lossy()],
        )?;
        git(infra, &["push", "--quiet", "origin", "main"])?;
        Ok(git(infra, &["rev-parse", "HEAD"])?.trim().to_string())
    };
    setup().map_err(|e| Error::usage(format!("cannot set up the rehearsal repository: {e}")))
}

/// Runs git in `dir` with an identity of its own, so rehearsals work where none is configured.
fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=ovscript rehearsal",
            "-c",
            "user.email=rehearsal@ovscript.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
