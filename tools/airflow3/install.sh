#!/usr/bin/env bash
# Install Apache Airflow 3.3.2 (exact set of tools/airflow3/requirements.txt) into a venv.
#
# Usage: tools/airflow3/install.sh [VENV_DIR]
#   VENV_DIR  default: $OVSCRIPT_AIRFLOW3_VENV, else <repo>/.tools/airflow3-venv
# The work is tools/airflow/install.sh's (idempotent, stamped, locked): see there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../airflow/install.sh" --airflow3 "$@"
