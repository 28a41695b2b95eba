#!/usr/bin/env bash
# Regenerates what is generated from the scripts and the binary: the runbook pages in docs/runbooks,
# the expected pages in tests/runbook_pages.rs, and the README's host-function table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
bin=target/debug/ovscript
for name in catalog ingestion; do
    "$bin" runbook --markdown "scripts/$name.rhai" > "docs/runbooks/$name.md"
done
python3 - "$bin" <<'PY'
import re, subprocess, sys
bin = sys.argv[1]
def out(*args):
    return subprocess.run([bin, *args], check=True, capture_output=True, text=True).stdout
path = "tests/runbook_pages.rs"
text = open(path).read()
for const, name in [("CATALOG", "catalog"), ("INGESTION", "ingestion")]:
    page = out("runbook", f"scripts/{name}.rhai")
    text = re.sub(rf'(const {const}: &str = r##").*?("##;)', lambda m: m.group(1) + page + m.group(2), text, flags=re.S)
open(path, "w").write(text)
readme = open("README.md").read()
table = out("doc", "--markdown")
start = readme.index("| function | does |")
end = readme.index("\n\n", start)
open("README.md", "w").write(readme[:start] + table.rstrip("\n") + readme[end:])
PY
