#!/usr/bin/env bash
# Start a throw-away Apache Airflow 2.10.5 (webserver + scheduler) on 127.0.0.1 for ovscript's
# tests. See tools/airflow/README.md.
#
# Usage: tools/airflow/start.sh
#
# Inputs (all optional, environment):
#   OVSCRIPT_AIRFLOW_VENV               venv made by install.sh   (default <repo>/.tools/airflow-venv)
#   OVSCRIPT_TEST_AIRFLOW_PORT          webserver port            (default: a free port)
#   OVSCRIPT_TEST_AIRFLOW_HOME          AIRFLOW_HOME, wiped first (default <repo>/.tools/airflow-home-<port>)
#   OVSCRIPT_TEST_AIRFLOW_USER          admin user                (default ovscript)
#   OVSCRIPT_TEST_AIRFLOW_PASSWORD      its password              (default ovscript-test-password)
#   OVSCRIPT_TEST_AIRFLOW_PAUSED_AT_CREATION  True|False          (default False: DAGs start unpaused)
#   OVSCRIPT_TEST_AIRFLOW_START_TIMEOUT seconds to wait for ready (default 240)
#   OVSCRIPT_TEST_SENSOR_POKE_INTERVAL  ovscript_refresh sensor poke interval, s (default 30)
#
# Output (stdout, also written to $AIRFLOW_HOME/ovscript-test.env as shell assignments):
#   OVSCRIPT_TEST_AIRFLOW_URL=http://127.0.0.1:PORT
#   OVSCRIPT_TEST_AIRFLOW_USER=...
#   OVSCRIPT_TEST_AIRFLOW_PASSWORD=...
#   OVSCRIPT_TEST_AIRFLOW_HOME=...
#   OVSCRIPT_TEST_AIRFLOW_PIDFILE=...
# Progress and errors go to stderr; Airflow's own output goes to log files in AIRFLOW_HOME.
# Exit 0 when ready; non-zero (after stopping what it started, and printing the log tails) if not.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

venv="${OVSCRIPT_AIRFLOW_VENV:-$repo/.tools/airflow-venv}"
user="${OVSCRIPT_TEST_AIRFLOW_USER:-ovscript}"
password="${OVSCRIPT_TEST_AIRFLOW_PASSWORD:-ovscript-test-password}"
paused_at_creation="${OVSCRIPT_TEST_AIRFLOW_PAUSED_AT_CREATION:-False}"
timeout="${OVSCRIPT_TEST_AIRFLOW_START_TIMEOUT:-240}"
poke_interval="${OVSCRIPT_TEST_SENSOR_POKE_INTERVAL:-30}"

log() { printf '[airflow/start] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -x "$venv/bin/airflow" ] || die "no Airflow in $venv: run tools/airflow/install.sh first"
command -v setsid >/dev/null || die "setsid (util-linux) is needed"
command -v curl >/dev/null || die "curl is needed"

py="$venv/bin/python"

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port="${OVSCRIPT_TEST_AIRFLOW_PORT:-$(free_port)}"
home="${OVSCRIPT_TEST_AIRFLOW_HOME:-$repo/.tools/airflow-home-$port}"
url="http://127.0.0.1:$port"

# A fresh home each time. Only a home made by this script (or an empty one) is wiped; if an
# Airflow still runs there, it is stopped first.
if [ -d "$home" ] && [ -n "$(ls -A "$home")" ]; then
  grep -qs '^# Written by tools/airflow/start.sh' "$home/airflow.cfg" \
    || die "$home exists and was not made by start.sh: refusing to wipe it"
  OVSCRIPT_TEST_AIRFLOW_KEEP_HOME=1 "$here/stop.sh" "$home" >&2 || die "could not stop the Airflow in $home"
fi
rm -rf "$home"
mkdir -p "$home/logs"
home="$(cd "$home" && pwd)"
pidfile="$home/ovscript-airflow.pids"
envfile="$home/ovscript-test.env"

secret_key="$("$py" -c 'import secrets; print(secrets.token_hex(16))')"

cat >"$home/airflow.cfg" <<EOF
# Written by tools/airflow/start.sh for ovscript's tests. Airflow fills in every other default.
[core]
dags_folder = $here/dags
executor = SequentialExecutor
load_examples = False
dags_are_paused_at_creation = $paused_at_creation
default_timezone = utc
dagbag_import_timeout = 60
dag_file_processor_timeout = 60
min_serialized_dag_update_interval = 5
min_serialized_dag_fetch_interval = 2

[database]
sql_alchemy_conn = sqlite:///$home/airflow.db
load_default_connections = False

[logging]
base_log_folder = $home/logs
dag_processor_manager_log_location = $home/logs/dag_processor_manager/dag_processor_manager.log

[scheduler]
min_file_process_interval = 5
dag_dir_list_interval = 5
parsing_processes = 1
scheduler_heartbeat_sec = 2
catchup_by_default = False
child_process_log_directory = $home/logs/scheduler

[webserver]
web_server_host = 127.0.0.1
web_server_port = $port
base_url = $url
workers = 1
worker_class = sync
secret_key = $secret_key
warn_deployment_exposure = False
expose_config = False

[api]
auth_backends = airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session
EOF

# Environment of every Airflow process (children inherit it; stop.sh also finds strays by it).
export PATH="$venv/bin:$PATH" # the SequentialExecutor runs `airflow tasks run` from PATH
export AIRFLOW_HOME="$home"
export AIRFLOW_CONFIG="$home/airflow.cfg"
export AIRFLOW_CONN_OVSCRIPT_UPSTREAM="$url"
export OVSCRIPT_TEST_SENSOR_POKE_INTERVAL="$poke_interval"
export PYTHONDONTWRITEBYTECODE=1
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

t0=$(date +%s)

fail() {
  log "ERROR: $*"
  for f in "$home"/db-migrate.log "$home"/users-create.log "$home"/scheduler.log "$home"/webserver.log; do
    [ -s "$f" ] || continue
    printf '\n----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
  OVSCRIPT_TEST_AIRFLOW_KEEP_HOME=1 "$here/stop.sh" "$home" >&2 || true
  log "logs kept in $home"
  exit 1
}

log "AIRFLOW_HOME=$home port=$port"
"$venv/bin/airflow" db migrate >"$home/db-migrate.log" 2>&1 || fail "airflow db migrate failed"
t1=$(date +%s)
"$venv/bin/airflow" users create --role Admin --username "$user" --password "$password" \
  --firstname ovscript --lastname test --email ovscript-test@example.invalid \
  >"$home/users-create.log" 2>&1 || fail "airflow users create failed"
t2=$(date +%s)
log "db migrate $((t1 - t0))s, users create $((t2 - t1))s"

# Each daemon leads its own session (setsid): stop.sh kills every process of these sessions,
# which covers gunicorn workers, the DAG processor and task processes (they make new process
# groups, not new sessions).
start_daemon() {
  local name="$1"; shift
  setsid "$@" >"$home/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$name $pid" >>"$pidfile"
}
: >"$pidfile"
# --skip-serve-logs: no log-server sub-process (it would bind 0.0.0.0:8793, one fixed port for
# every instance); the webserver reads task logs from the local files.
start_daemon scheduler "$venv/bin/airflow" scheduler --skip-serve-logs
start_daemon webserver "$venv/bin/airflow" webserver --port "$port" --hostname 127.0.0.1 --workers 1

alive() {
  local name pid
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null || { echo "$name"; return 1; }
  done <"$pidfile"
}

api() { curl -sS -m 10 -u "$user:$password" -H 'Accept: application/json' "$url/api/v1/$1"; }

deadline=$((t2 + timeout))
phase="webserver"
while :; do
  dead="$(alive)" || fail "the $dead exited early"
  [ "$(date +%s)" -lt "$deadline" ] || fail "not ready after ${timeout}s (waiting for: $phase)"
  case "$phase" in
    webserver)
      if health="$(api health 2>/dev/null)" && [ -n "$health" ]; then
        t3=$(date +%s); log "webserver answers after $((t3 - t2))s"; phase="scheduler"; continue
      fi ;;
    scheduler)
      health="$(api health 2>/dev/null || true)"
      if "$py" -c 'import json,sys; h=json.loads(sys.argv[1]); sys.exit(0 if h["scheduler"]["status"]=="healthy" and h["metadatabase"]["status"]=="healthy" else 1)' "$health" 2>/dev/null; then
        phase="dags"; continue
      fi ;;
    dags)
      dags="$(api 'dags?limit=100' 2>/dev/null || true)"
      if "$py" -c 'import json,sys; d={x["dag_id"] for x in json.loads(sys.argv[1])["dags"]}; sys.exit(0 if {"ovscript_refresh","ovscript_pausable"} <= d else 1)' "$dags" 2>/dev/null; then
        break
      fi ;;
  esac
  sleep 1
done
t4=$(date +%s)
log "ready in $((t4 - t0))s (webserver+scheduler up, DAGs visible after $((t4 - t2))s)"

# Shell-quoted (%q), so `set -a; . FILE` is safe; simple values stay plain KEY=value.
{
  printf 'OVSCRIPT_TEST_AIRFLOW_URL=%q\n' "$url"
  printf 'OVSCRIPT_TEST_AIRFLOW_USER=%q\n' "$user"
  printf 'OVSCRIPT_TEST_AIRFLOW_PASSWORD=%q\n' "$password"
  printf 'OVSCRIPT_TEST_AIRFLOW_HOME=%q\n' "$home"
  printf 'OVSCRIPT_TEST_AIRFLOW_PIDFILE=%q\n' "$pidfile"
  printf 'OVSCRIPT_TEST_AIRFLOW_ENVFILE=%q\n' "$envfile"
} >"$envfile"
cat "$envfile"
