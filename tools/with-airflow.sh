#!/usr/bin/env bash
# shellcheck disable=SC2317  # the functions below run from traps
# Run a command with a real Apache Airflow 2.10.5 and a real Apache Airflow 3.3.2 on 127.0.0.1,
# then stop them.
#
# Usage: tools/with-airflow.sh CMD [ARGS...]
#   e.g. tools/with-airflow.sh cargo test --test integration airflow
#
# 1. installs both (tools/airflow/install.sh, tools/airflow3/install.sh; no-ops when the venvs
#    match their requirements.txt), at once,
# 2. starts both (tools/airflow/start.sh, tools/airflow3/start.sh: fresh AIRFLOW_HOME, free port,
#    each waits until ready), at once,
# 3. exports OVSCRIPT_TEST_AIRFLOW_URL, _USER, _PASSWORD, _HOME, _PIDFILE, _ENVFILE (Airflow 2)
#    and OVSCRIPT_TEST_AIRFLOW3_URL, _USER, _PASSWORD, _HOME, _PIDFILE, _ENVFILE (Airflow 3),
# 4. runs CMD, 5. always stops both (exit, Ctrl-C, SIGTERM; tools/airflow/stop.sh, at once) and
#    exits with CMD's code (130 on SIGINT, 143 on SIGTERM; 1 if an Airflow could not be installed
#    or started).
# OVSCRIPT_TEST_AIRFLOW_VERSIONS="2 3" (the default) picks which; "2" or "3" runs one only.
# When CMD fails, the AIRFLOW_HOMEs (logs) are kept and named.
# All of start.sh's and install.sh's environment variables apply (see tools/airflow/README.md and
# tools/airflow3/README.md).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$#" -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

log() { printf '[with-airflow] %s\n' "$*" >&2; }

versions="${OVSCRIPT_TEST_AIRFLOW_VERSIONS:-2 3}"
for v in $versions; do
  case "$v" in
    2 | 3) ;;
    *) log "OVSCRIPT_TEST_AIRFLOW_VERSIONS: '$v' is not 2 or 3"; exit 2 ;;
  esac
done

# Per version: its scripts and its home (chosen here, before start.sh runs, so that an interrupt
# during the start still finds, by AIRFLOW_HOME, and stops whatever start.sh had launched).
tools_of() { if [ "$1" = 2 ]; then echo "$here/airflow"; else echo "$here/airflow3"; fi; }
declare -A home
home[2]="${OVSCRIPT_TEST_AIRFLOW_HOME:-$repo/.tools/airflow-home-run$$}"
home[3]="${OVSCRIPT_TEST_AIRFLOW3_HOME:-$repo/.tools/airflow-home-3-run$$}"
started=()

stopped=0
cleanup() {
  local rc="$1" v keep=0 pids=()
  [ "$stopped" = 1 ] && return
  stopped=1
  [ "$rc" != 0 ] && keep=1
  for v in "${started[@]}"; do
    [ "$keep" = 1 ] && log "command exited $rc; keeping ${home[$v]} for its logs"
    OVSCRIPT_TEST_AIRFLOW_KEEP_HOME="$keep" "$here/airflow/stop.sh" "${home[$v]}" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}
cmd_pid=""
start_pids=()
on_exit() { local rc=$?; cleanup "$rc"; exit "$rc"; }
# CMD and everything it starts carry this unique token in their environment (only they do).
run_token="OVSCRIPT_TEST_WITH_AIRFLOW_RUN=$$-$(date +%s%N)"
# PIDs of the processes started under CMD that are still alive.
cmd_leftovers() {
  local p
  for p in /proc/[0-9]*; do
    grep -qzxF -- "$run_token" "$p/environ" 2>/dev/null && echo "${p#/proc/}"
  done
}
on_signal() { # SIGNAL EXIT_CODE: pass the signal on to CMD, wait for it, stop the Airflows
  trap - INT TERM
  local pid
  for pid in "${start_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      log "got SIG$1 while installing or starting Airflow"
      kill -TERM "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    log "got SIG$1: passing it to the command (pid $cmd_pid)"
    kill -s "$1" "$cmd_pid" 2>/dev/null
    wait "$cmd_pid" 2>/dev/null
  fi
  # Whatever CMD started and left behind (e.g. `bash -c` does not pass signals on).
  local left
  left="$(cmd_leftovers)"
  if [ -n "$left" ]; then
    log "terminating what the command left: ${left//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -TERM $left 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      left="$(cmd_leftovers)"; [ -z "$left" ] && break; sleep 0.5
    done
    # shellcheck disable=SC2086
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
  fi
  cleanup "$2"
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

# Runs each version's STEP (install, start) at once; fails if any failed.
each() { # STEP
  local v pid rc=0
  declare -A pid_of
  start_pids=()
  for v in $versions; do
    if [ "$1" = start ]; then
      started+=("$v")
      OVSCRIPT_TEST_AIRFLOW_HOME="${home[2]}" OVSCRIPT_TEST_AIRFLOW3_HOME="${home[3]}" \
        "$(tools_of "$v")/start.sh" >/dev/null &
    else
      "$(tools_of "$v")/install.sh" >&2 &
    fi
    pid_of[$v]=$!
    start_pids+=("$!")
  done
  for v in $versions; do
    wait "${pid_of[$v]}" || { log "ERROR: Airflow $v: $1 failed"; rc=1; }
  done
  start_pids=()
  return "$rc"
}

t0=$(date +%s)
each install || exit 1
t1=$(date +%s)
each start || exit 1
t2=$(date +%s)
ready=()
for v in $versions; do
  set -a
  # shellcheck disable=SC1090,SC1091
  . "${home[$v]}/ovscript-test.env"
  set +a
  if [ "$v" = 2 ]; then
    ready+=("Airflow 2.10.5 at $OVSCRIPT_TEST_AIRFLOW_URL")
  else
    ready+=("Airflow 3.3.2 at $OVSCRIPT_TEST_AIRFLOW3_URL")
  fi
done
log "ready: ${ready[*]} (install check $((t1 - t0))s, start $((t2 - t1))s); running: $*"

# CMD runs as a child that this script waits for, so that a signal to this script is handled at
# once (passed on to CMD, then the Airflows stopped), not only after CMD ends. It keeps this
# script's stdin and terminal, and default SIGINT/SIGQUIT (bash would ignore them in a background
# job): Ctrl-C reaches CMD as usual. The Airflow daemons are in sessions of their own: Ctrl-C does
# not reach them; the trap stops them.
# shellcheck disable=SC2163  # run_token is NAME=VALUE
( trap - INT QUIT; export "$run_token"; exec "$@" ) <&0 &
cmd_pid=$!
wait "$cmd_pid"
rc=$?
cmd_pid=""
exit "$rc"
