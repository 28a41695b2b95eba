#!/usr/bin/env bash
# shellcheck disable=SC2317  # the functions below run from traps
# Run a command with a real container registry on 127.0.0.1, then stop it: the CNCF
# distribution registry of Debian's docker-registry package (/usr/bin/docker-registry).
#
# Usage: tools/with-registry.sh CMD [ARGS...]
#   e.g. tools/with-registry.sh cargo test --test integration registry
#
# 1. installs docker-registry with apt-get when it is missing (apt-get update first if needed),
# 2. starts it on a free port of 127.0.0.1, its configuration and storage in a temporary folder,
#    no auth (as a mirror or a local registry), and waits until `GET /v2/` answers,
# 3. exports OVSCRIPT_TEST_REGISTRY_URL=http://127.0.0.1:PORT, 4. runs CMD,
# 5. always stops the registry (exit, Ctrl-C, SIGTERM), removes the folder, and exits with CMD's
#    code (130 on SIGINT, 143 on SIGTERM; 1 if the registry could not be installed or started).
# When CMD fails, the registry's log is kept and named.
set -uo pipefail

[ "$#" -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

log() { printf '[with-registry] %s\n' "$*" >&2; }

bin=/usr/bin/docker-registry
dir=""
registry_pid=""
cmd_pid=""
stopped=0

stop_registry() {
  if [ -n "$registry_pid" ] && kill -0 "$registry_pid" 2>/dev/null; then
    kill -TERM "$registry_pid" 2>/dev/null
    for _ in $(seq 50); do
      kill -0 "$registry_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$registry_pid" 2>/dev/null
    wait "$registry_pid" 2>/dev/null
  fi
  registry_pid=""
}

cleanup() {
  local rc="$1"
  [ "$stopped" = 1 ] && return
  stopped=1
  stop_registry
  [ -n "$dir" ] || return
  if [ "$rc" != 0 ] && [ -s "$dir/registry.log" ]; then
    cp "$dir/registry.log" "${TMPDIR:-/tmp}/ovscript-test-registry-$$.log" 2>/dev/null &&
      log "command exited $rc; the registry's log is in ${TMPDIR:-/tmp}/ovscript-test-registry-$$.log"
  fi
  rm -rf "$dir"
}
on_exit() { local rc=$?; cleanup "$rc"; exit "$rc"; }
on_signal() { # SIGNAL EXIT_CODE: pass the signal on to CMD, wait for it, stop the registry
  trap - INT TERM
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    log "got SIG$1: passing it to the command (pid $cmd_pid)"
    kill -s "$1" "$cmd_pid" 2>/dev/null
    wait "$cmd_pid" 2>/dev/null
  fi
  cleanup "$2"
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

installed() { dpkg -s docker-registry 2>/dev/null | grep -q '^Status: install ok installed' && [ -x "$bin" ]; }

install() {
  installed && return 0
  command -v apt-get >/dev/null || { log "ERROR: docker-registry is missing and there is no apt-get"; return 1; }
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry)
  log "installing docker-registry (apt-get)"
  if ! "${apt[@]}" >&2; then
    log "apt-get install failed: updating the package lists and trying again"
    apt-get update >&2 && "${apt[@]}" >&2 || return 1
  fi
  # Where init lets a package start its service, the package's own registry (on :5000, with
  # /etc/docker/registry/config.yml) would run on, unasked for: stop it.
  invoke-rc.d docker-registry stop >/dev/null 2>&1 || true
  installed
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts the registry on a free port and waits until it answers; 1 if it exits or does not answer
# within 20 s (a port taken between choosing it and binding it: the caller tries again).
start() {
  local port="$1"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: ovscript-test-registry
EOF
  # A background job: a Ctrl-C at the terminal is CMD's to handle; this script stops the registry.
  "$bin" serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null &
  registry_pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 200); do
    kill -0 "$registry_pid" 2>/dev/null || { wait "$registry_pid" 2>/dev/null; registry_pid=""; return 1; }
    curl -fsS -m 2 -o /dev/null "$url/v2/" 2>/dev/null && return 0
    sleep 0.1
  done
  stop_registry
  return 1
}

t0=$(date +%s%N)
install || { log "ERROR: cannot install docker-registry (apt-get install -y docker-registry)"; exit 1; }
t1=$(date +%s%N)
command -v curl >/dev/null || { log "ERROR: curl is needed"; exit 1; }
dir="$(mktemp -d "${TMPDIR:-/tmp}/ovscript-registry.XXXXXX")" || exit 1
url=""
ready=0
for _ in 1 2 3; do
  port="$(free_port)" || { log "ERROR: python3 is needed to find a free port"; exit 1; }
  if start "$port"; then ready=1; break; fi
  log "the registry did not start on port $port; trying another"
done
if [ "$ready" != 1 ]; then
  log "ERROR: the registry did not start; its log:"
  tail -n 20 "$dir/registry.log" >&2
  exit 1
fi
t2=$(date +%s%N)
export OVSCRIPT_TEST_REGISTRY_URL="$url"
log "registry $("$bin" --version | awk '{print $NF}') ready at $url (install check $(( (t1 - t0) / 1000000 )) ms, start $(( (t2 - t1) / 1000000 )) ms); running: $*"

# CMD runs as a child that this script waits for, so that a signal to this script is handled at
# once (passed on to CMD, then the registry stopped). It keeps this script's stdin and terminal
# and default SIGINT/SIGQUIT (bash would ignore them in a background job): Ctrl-C reaches CMD,
# and a wrapper it runs (tools/with-airflow.sh) can trap them.
( trap - INT QUIT; exec "$@" ) <&0 &
cmd_pid=$!
wait "$cmd_pid"
rc=$?
cmd_pid=""
exit "$rc"
