#!/usr/bin/env bash
# Stop an Airflow started by tools/airflow/start.sh (Airflow 2) or tools/airflow3/start.sh
# (Airflow 3), leaving no process behind.
#
# Usage: tools/airflow/stop.sh [AIRFLOW_HOME | --all]
#   AIRFLOW_HOME  the home start.sh printed (default: $OVSCRIPT_TEST_AIRFLOW_HOME)
#   --all         every <repo>/.tools/airflow-home-* of either version (e.g. after a crashed run)
# Environment: OVSCRIPT_TEST_AIRFLOW_KEEP_HOME=1 keeps the home (logs, database); by default it
# is removed once nothing runs in it.
#
# How: start.sh runs each daemon (Airflow 2: scheduler, webserver; Airflow 3: api-server,
# scheduler, dag-processor) as the leader of its own session (setsid). SIGTERM goes to every
# process of those sessions (gunicorn or uvicorn workers, the DAG processor, executor workers,
# task processes: Airflow moves some into new process groups, never into new sessions); after a
# grace period SIGKILL: Airflow 3's scheduler can hang in its shutdown, waiting for its log
# server child. Last, any process whose environment still has AIRFLOW_HOME=<this home> is killed
# too. A zombie (dead, not yet reaped by its parent) counts as stopped. Exit 1 if something could
# not be stopped.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
grace="${OVSCRIPT_TEST_AIRFLOW_STOP_GRACE:-15}"

log() { printf '[airflow/stop] %s\n' "$*" >&2; }

# start.sh calls this script with AIRFLOW_HOME exported: run without it (so that neither this
# process nor its subshells match the environment sweep), and never target our ancestors.
if [ -n "${AIRFLOW_HOME+x}${AIRFLOW_CONFIG+x}" ]; then
  exec env -u AIRFLOW_HOME -u AIRFLOW_CONFIG bash "${BASH_SOURCE[0]}" "$@"
fi
self_chain=" "
p=$$
while [ -n "$p" ] && [ "$p" -gt 1 ] 2>/dev/null; do
  self_chain+="$p "
  p="$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)"
done
not_self() { while read -r p; do [[ "$self_chain" == *" $p "* ]] || echo "$p"; done; }

# PIDs of the live processes in session $1 (sid); zombies have exited already.
session_pids() {
  ps -e -o pid=,sid=,stat= | awk -v sid="$1" '$2 == sid && $3 !~ /^Z/ { print $1 }'
}

# PIDs of processes whose environment has AIRFLOW_HOME=$1 exactly.
env_pids() {
  local want="AIRFLOW_HOME=$1" p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    if grep -qzxF -- "$want" "/proc/$p/environ" 2>/dev/null; then
      echo "$p"
    fi
  done
}

all_pids() { # home, sids...
  local home="$1"; shift
  { for sid in "$@"; do session_pids "$sid"; done; env_pids "$home"; } | not_self | sort -un
}

stop_home() {
  local home="$1" pidfile="$1/ovscript-airflow.pids" sids=() pid pids
  if [ -f "$pidfile" ]; then
    while read -r _ pid; do
      [ -n "${pid:-}" ] && sids+=("$pid")
    done <"$pidfile"
  fi
  pids="$(all_pids "$home" "${sids[@]}")"
  if [ -n "$pids" ]; then
    log "stopping $(wc -w <<<"$pids") process(es) of $home"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    local waited=0
    while [ "$waited" -lt "$((grace * 5))" ]; do
      pids="$(all_pids "$home" "${sids[@]}")"
      [ -z "$pids" ] && break
      sleep 0.2
      waited=$((waited + 1))
    done
    if [ -n "$pids" ]; then
      log "still alive after ${grace}s, SIGKILL: ${pids//$'\n'/ }"
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null
      sleep 0.5
      pids="$(all_pids "$home" "${sids[@]}")"
    fi
  fi
  if [ -n "$pids" ]; then
    log "ERROR: could not stop: ${pids//$'\n'/ }"
    ps -o pid,sid,pgid,stat,args -p "${pids//$'\n'/,}" >&2 || true
    return 1
  fi
  rm -f "$pidfile"
  if [ "${OVSCRIPT_TEST_AIRFLOW_KEEP_HOME:-0}" = 1 ]; then
    log "stopped; kept $home"
  else
    rm -rf "$home"
    log "stopped; removed $home"
  fi
}

if [ "${1:-}" = "--all" ]; then
  rc=0
  for h in "$repo"/.tools/airflow-home-*; do
    [ -d "$h" ] || continue
    stop_home "$(cd "$h" && pwd)" || rc=1
  done
  exit "$rc"
fi

home="${1:-${OVSCRIPT_TEST_AIRFLOW_HOME:-}}"
[ -n "$home" ] || { log "usage: stop.sh AIRFLOW_HOME | --all (or set OVSCRIPT_TEST_AIRFLOW_HOME)"; exit 2; }
[ -d "$home" ] || { log "no such home: $home (nothing to stop)"; exit 0; }
stop_home "$(cd "$home" && pwd)"
