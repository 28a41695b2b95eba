#!/usr/bin/env bash
# Smoke test of a running test Airflow with curl only (no samples written):
#   tools/with-airflow.sh tools/airflow/smoke.sh
# Unpauses ovscript_refresh, triggers it, waits (bounded) until the run is listed among running
# runs and its HttpSensor is up_for_reschedule; then pauses/unpauses ovscript_pausable.
# Needs OVSCRIPT_TEST_AIRFLOW_URL, _USER, _PASSWORD. Prints "smoke: 1 passed, 0 failed" on success.
set -euo pipefail

: "${OVSCRIPT_TEST_AIRFLOW_URL:?run under tools/with-airflow.sh}"
api="$OVSCRIPT_TEST_AIRFLOW_URL/api/v1"
auth="$OVSCRIPT_TEST_AIRFLOW_USER:$OVSCRIPT_TEST_AIRFLOW_PASSWORD"
timeout="${SMOKE_TIMEOUT:-120}"
sensor="data_refresh.ingest_upstream.wait_for_ingest_upstream"

curlj() { curl -sS -f -m 20 -u "$auth" -H 'Accept: application/json' -H 'Content-Type: application/json' "$@"; }
py() { python3 -c "$1" "${@:2}"; }
fail() { echo "smoke: FAILED: $*" >&2; echo "smoke: 0 passed, 1 failed"; exit 1; }

t0=$(date +%s)
curlj -X PATCH "$api/dags/ovscript_refresh?update_mask=is_paused" -d '{"is_paused": false}' >/dev/null
run_id="$(curlj -X POST "$api/dags/ovscript_refresh/dagRuns" -d '{}' | py 'import json,sys; print(json.load(sys.stdin)["dag_run_id"])')"
enc="$(py 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$run_id")"
echo "triggered ovscript_refresh: $run_id"

while :; do
  [ $(($(date +%s) - t0)) -lt "$timeout" ] || fail "sensor not up_for_reschedule within ${timeout}s"
  tis="$(curlj "$api/dags/ovscript_refresh/dagRuns/$enc/taskInstances")"
  if py 'import json,sys; t=[x for x in json.loads(sys.argv[1])["task_instances"] if x["task_id"]==sys.argv[2]]; sys.exit(0 if t and t[0]["state"]=="up_for_reschedule" and t[0]["operator"]=="HttpSensor" else 1)' "$tis" "$sensor"; then
    break
  fi
  sleep 1
done
echo "sensor $sensor up_for_reschedule (operator HttpSensor) after $(($(date +%s) - t0))s"

running="$(curlj "$api/dags/~/dagRuns?state=running")"
py 'import json,sys; sys.exit(0 if any(r["dag_run_id"]==sys.argv[2] for r in json.loads(sys.argv[1])["dag_runs"]) else 1)' "$running" "$run_id" \
  || fail "run not listed by dagRuns?state=running"
echo "listed by GET /api/v1/dags/~/dagRuns?state=running"

for want in true false; do
  got="$(curlj -X PATCH "$api/dags/ovscript_pausable?update_mask=is_paused" -d "{\"is_paused\": $want}" | py 'import json,sys; print(str(json.load(sys.stdin)["is_paused"]).lower())')"
  [ "$got" = "$want" ] || fail "PATCH is_paused=$want gave $got"
done
echo "pause/unpause round trip ok"

code="$(curl -s -o /dev/null -w '%{http_code}' -u "$OVSCRIPT_TEST_AIRFLOW_USER:wrong-password" "$api/dags")"
[ "$code" = 401 ] || fail "wrong password gave $code, not 401"
echo "wrong password -> 401"

echo "smoke: 1 passed, 0 failed"
