#!/usr/bin/env bash
# shellcheck disable=SC2317  # the functions below run from traps
# Run a command with a real Apache Airflow 2.10.5 on 127.0.0.1, then stop it.
#
# Usage: tools/with-airflow.sh CMD [ARGS...]
#   e.g. tools/with-airflow.sh cargo nextest run --features airflow-it
#
# 1. tools/airflow/install.sh (a no-op when the venv already matches requirements.txt),
# 2. tools/airflow/start.sh (fresh AIRFLOW_HOME, free port, waits until ready),
# 3. exports OVSCRIPT_TEST_AIRFLOW_URL, _USER, _PASSWORD, _HOME, _PIDFILE, _ENVFILE,
# 4. runs CMD, 5. always stops Airflow (exit, Ctrl-C, SIGTERM) and exits with CMD's code
#    (130 on SIGINT, 143 on SIGTERM; 1 if Airflow could not be installed or started).
# When CMD fails, AIRFLOW_HOME (logs: scheduler.log, webserver.log, logs/) is kept and named.
# All of start.sh's and install.sh's environment variables apply (see tools/airflow/README.md).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ "$#" -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

log() { printf '[with-airflow] %s\n' "$*" >&2; }

home=""
stopped=0
cleanup() {
  local rc="$1"
  [ "$stopped" = 1 ] && return
  stopped=1
  if [ -n "$home" ]; then
    if [ "$rc" != 0 ]; then
      log "command exited $rc; keeping $home for its logs"
      OVSCRIPT_TEST_AIRFLOW_KEEP_HOME=1 "$here/airflow/stop.sh" "$home" || true
    else
      "$here/airflow/stop.sh" "$home" || true
    fi
  fi
}
cmd_pid=""
start_pid=""
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
on_signal() { # SIGNAL EXIT_CODE: pass the signal on to CMD, wait for it, stop Airflow
  trap - INT TERM
  if [ -n "$start_pid" ] && kill -0 "$start_pid" 2>/dev/null; then
    log "got SIG$1 while starting Airflow"
    kill -TERM "$start_pid" 2>/dev/null
    wait "$start_pid" 2>/dev/null
  fi
  if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
    log "got SIG$1: passing it to the command (pid $cmd_pid)"
    kill -s "$1" "$cmd_pid" 2>/dev/null
    wait "$cmd_pid" 2>/dev/null
  fi
  if [ -n "$home" ]; then
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
  fi
  cleanup "$2"
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

t0=$(date +%s)
"$here/airflow/install.sh" >&2 || { log "ERROR: Airflow install failed"; exit 1; }
t1=$(date +%s)

# The home is chosen here, before start.sh runs, so that an interrupt during the start still
# finds (by AIRFLOW_HOME) and stops whatever start.sh had launched.
repo="$(cd "$here/.." && pwd)"
home="${OVSCRIPT_TEST_AIRFLOW_HOME:-$repo/.tools/airflow-home-run$$}"
export OVSCRIPT_TEST_AIRFLOW_HOME="$home"
"$here/airflow/start.sh" >&2 &
start_pid=$!
wait "$start_pid" || { log "ERROR: Airflow did not start"; exit 1; }
start_pid=""
set -a
# shellcheck disable=SC1090,SC1091
. "$home/ovscript-test.env"
set +a
t2=$(date +%s)
log "Airflow ready at $OVSCRIPT_TEST_AIRFLOW_URL (install check $((t1 - t0))s, start $((t2 - t1))s); running: $*"

# CMD runs as a child that this script waits for, so that a signal to this script is handled at
# once (passed on to CMD, then Airflow stopped), not only after CMD ends. It keeps this script's
# stdin and terminal, and default SIGINT/SIGQUIT (bash would ignore them in a background job):
# Ctrl-C reaches CMD as usual. The Airflow daemons are in sessions of their own: Ctrl-C does not
# reach them; the trap stops them.
# shellcheck disable=SC2163  # run_token is NAME=VALUE
( trap - INT QUIT; export "$run_token"; exec "$@" ) <&0 &
cmd_pid=$!
wait "$cmd_pid"
rc=$?
cmd_pid=""
exit "$rc"
