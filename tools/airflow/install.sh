#!/usr/bin/env bash
# Install Apache Airflow 2.10.5 (exact set of tools/airflow/requirements.txt) into a venv; with
# `--airflow3`, Apache Airflow 3.3.2 (tools/airflow3/requirements.txt; tools/airflow3/install.sh).
#
# Usage: tools/airflow/install.sh [--airflow3] [VENV_DIR]
#   VENV_DIR  default: $OVSCRIPT_AIRFLOW_VENV, else <repo>/.tools/airflow-venv
#             (--airflow3: $OVSCRIPT_AIRFLOW3_VENV, else <repo>/.tools/airflow3-venv)
# Environment: OVSCRIPT_AIRFLOW_PYTHON  the interpreter for the venv (default python3;
#              Airflow 2.10: 3.8-3.12, Airflow 3.3: 3.10-3.14)
#
# Idempotent: a stamp file in the venv holds the sha256 of requirements.txt and the Python
# version; when it matches, this exits at once. When a venv made by this script is out of date
# it is rebuilt from scratch, so that the set stays exact. pip's output goes to
# VENV_DIR/ovscript-install.log (its tail is shown on failure). Concurrent runs wait on a lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
if [ "${1:-}" = "--airflow3" ]; then
  shift
  name="Airflow 3" want_version="3.3.2" pythons="3.10 3.11 3.12 3.13 3.14"
  req="$repo/tools/airflow3/requirements.txt"
  venv="${1:-${OVSCRIPT_AIRFLOW3_VENV:-$repo/.tools/airflow3-venv}}"
else
  name="Airflow 2" want_version="2.10.5" pythons="3.8 3.9 3.10 3.11 3.12"
  req="$here/requirements.txt"
  venv="${1:-${OVSCRIPT_AIRFLOW_VENV:-$repo/.tools/airflow-venv}}"
fi
python="${OVSCRIPT_AIRFLOW_PYTHON:-python3}"

log() { printf '[airflow/install] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v "$python" >/dev/null || die "no $python on PATH (set OVSCRIPT_AIRFLOW_PYTHON)"
pyver="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
case " $pythons " in
  *" ${pyver%.*} "*) ;;
  *) die "$name needs Python ${pythons// /, }; $python is $pyver (set OVSCRIPT_AIRFLOW_PYTHON)" ;;
esac

want="$( { sha256sum "$req" | cut -d' ' -f1; echo "python $pyver"; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.ovscript-airflow-stamp"

up_to_date() { [ -x "$venv/bin/airflow" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }

if up_to_date; then
  log "up to date: $venv"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
lock="$(dirname "$venv")/.$(basename "$venv").lock"
exec 9>"$lock"
flock 9
if up_to_date; then # another run finished it while we waited
  log "up to date: $venv"
  exit 0
fi

t0=$(date +%s)
if [ -f "$stamp" ]; then
  log "requirements or Python changed: rebuilding $venv"
  rm -rf "$venv"
elif [ -d "$venv" ] && [ -n "$(ls -A "$venv")" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
  die "$venv exists and is not a venv: refusing to touch it"
fi

log "installing $name into $venv (Python $pyver; pip log: $venv/ovscript-install.log)"
"$python" -m venv "$venv" || die "python -m venv failed (on Debian: apt-get install python3-venv)"
instlog="$venv/ovscript-install.log"
if ! "$venv/bin/python" -m pip install --no-input --disable-pip-version-check --progress-bar off \
  -r "$req" >"$instlog" 2>&1; then
  tail -n 40 "$instlog" >&2
  die "pip install failed (full log: $instlog)"
fi
"$venv/bin/python" -m pip check >>"$instlog" 2>&1 || { tail -n 20 "$instlog" >&2; die "pip check failed"; }
tmphome="$(mktemp -d)"
version="$(AIRFLOW_HOME="$tmphome" "$venv/bin/airflow" version 2>>"$instlog" | tail -n 1)" || true
rm -rf "$tmphome"
[ "$version" = "$want_version" ] || { tail -n 20 "$instlog" >&2; die "airflow version says '$version', not $want_version"; }

echo "$want" >"$stamp"
log "installed Airflow $version in $(($(date +%s) - t0))s"
