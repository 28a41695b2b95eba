# ovscript's own recipes. `just --list` shows them.

set positional-arguments
set shell := ["bash", "-cu"]

# just and terraform from PyPI (tools/install-tools.sh), then the ovscript built here, come first
# on PATH: the recipes written in ovscript below find it there.
export PATH := justfile_directory() + "/.tools/venv/bin:" + justfile_directory() + "/target/debug:" + env_var('PATH')

bin := justfile_directory() + "/target/debug/ovscript"

# List the recipes.
default:
    @just --list

# Build ovscript and install just and terraform into .tools/.
build:
    @tools/install-tools.sh > /dev/null
    @cargo build --quiet

# Deploy the catalog (Airflow). The runbook's options pass through (just deploy-catalog
# --watch=10m --expect-airflow-version=3.3.2); ovscript's by variables: OVSCRIPT_DRY_RUN=1,
# OVSCRIPT_YES=1, OVSCRIPT_REHEARSE=dag-running, OVSCRIPT_RESUME=RUN_ID just deploy-catalog
deploy-catalog *args: build
    {{bin}} run scripts/catalog.rhai "$@"

# Deploy the ingestion server: just deploy-ingestion --skip-staging (OVSCRIPT_DRY_RUN=1 ... as above)
deploy-ingestion *args: build
    {{bin}} run scripts/ingestion.rhai "$@"

# Rehearse a runbook (catalog or ingestion) in a simulated world: just rehearse catalog
# sensor-waiting (OVSCRIPT_YES=1 answers every question; the runbook's options follow)
rehearse runbook="catalog" scenario="calm" *args: build
    {{bin}} run --rehearse={{scenario}} scripts/{{runbook}}.rhai "${@:3}"

# The operator's first look before a deploy, written in ovscript: running DAGs, the refresh DAGs
# and their sensors, the drafted and last published releases, Sentry's errors of the last hour.
[script("ovscript")]
status: build
    // What could not be read is said, never shown as fine.
    fn section(title, read) {
        print("");
        print(title);
        try {
            read.call();
        } catch (e) {
            let why = if type_of(e) == "map" { e.message } else { `${e}` };
            warn(`${title}: NOT checked: ${why}`);
        }
    }
    section("Running DAG runs", || {
        let runs = airflow.running_dags();
        if runs.is_empty() { print("  none"); } else { table(runs, ["dag_id", "run_id", "start_date"]); }
    });
    section("Refresh DAGs (tag data_refresh) and their unfinished tasks", || {
        let running = airflow.running_dags();
        for dag in airflow.dags("data_refresh") {
            let runs = running.filter(|run| run.dag_id == dag.dag_id);
            print(`  ${dag.dag_id}: ${if dag.is_paused { "paused" } else { "active" }}, ${runs.len()} running`);
            for run in runs {
                table(airflow.active_tasks(run.dag_id, run.run_id), ["task_id", "operator", "state"]);
            }
        }
    });
    section("Releases", || {
        let rows = [];
        for app in ["catalog", "ingestion_server"] {
            let draft = github.draft_release(`${app}-`);
            let published = github.latest_release(`${app}-`);
            rows.push(#{
                app: app,
                drafted: if draft == () { "(none)" } else { draft.tag_name },
                published: if published == () { "(none)" } else { published.tag_name },
                rollback_tag: if published == () { "" } else { published.rollback_tag },
            });
        }
        table(rows, ["app", "drafted", "published", "rollback_tag"]);
    });
    section("Sentry errors of the last hour", || {
        let errors = sentry.errors_since("1h");
        if errors.is_empty() { print("  none"); } else { table(errors, ["level", "count", "title", "last_seen", "permalink"]); }
    });

# Check every runbook, stdlib module and ovscript recipe of this justfile: compile, and report
# calls to unknown functions and host functions called with the wrong arguments.
check: build
    {{bin}} check scripts/*.rhai justfile

# Every test, with a real Airflow, just and terraform (installed as needed).
test *args:
    tools/test "$@"

# Regenerate the runbook pages (docs/runbooks/) from the scripts: a test fails when they differ.
docs: build
    {{bin}} runbook --markdown scripts/catalog.rhai > docs/runbooks/catalog.md
    {{bin}} runbook --markdown scripts/ingestion.rhai > docs/runbooks/ingestion.md

# What CI runs: formatting, lints, tests.
ci:
    bash .ci/run
