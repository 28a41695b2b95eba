#!/usr/bin/env python3
"""Exercise a real Airflow started by start.sh and save its REST API answers as samples.

Usage (Airflow must be running; the variables come from start.sh / with-airflow.sh):
    tools/with-airflow.sh python3 tools/airflow/capture_samples.py [OUT_DIR]
OUT_DIR defaults to tools/airflow/samples. Standard library only.

What it does, in order (and checks, exiting 1 if a check fails):
  1. health, version, the DAG list, DAGs by tag;
  2. PATCH is_paused round trip on ovscript_pausable; a triggered run of it to `success`;
  3. unpause ovscript_refresh (PATCH update_mask=is_paused), trigger it with `{}`, and wait
     until its HttpSensor task is `up_for_reschedule` (operator `HttpSensor`) and the run is
     listed by GET /api/v1/dags/~/dagRuns?state=running; a second trigger stays `queued`
     (max_active_runs=1);
  4. errors: wrong password (401), unknown DAG (404), a bad query parameter (400);
  5. page cap: pause ovscript_pausable, trigger it until more than 100 runs exist, and ask
     GET /api/v1/dags/~/dagRuns?limit=1000 (capped by [api] maximum_page_limit = 100);
  6. stop the scheduler (pid from OVSCRIPT_TEST_AIRFLOW_PIDFILE) and wait for /api/v1/health
     to report it unhealthy (a clean stop shows at once; a crash after the 30 s threshold).
Each sample is the response body as JSON, exactly as received (re-indented); index.json lists
method, path, request body, status and content type of each. Timings go to stdout.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

URL = os.environ["OVSCRIPT_TEST_AIRFLOW_URL"].rstrip("/")
USER = os.environ["OVSCRIPT_TEST_AIRFLOW_USER"]
PASSWORD = os.environ["OVSCRIPT_TEST_AIRFLOW_PASSWORD"]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "samples"
OUT.mkdir(parents=True, exist_ok=True)

index: list[dict] = []
T0 = time.monotonic()


def elapsed() -> str:
    return f"{time.monotonic() - T0:6.1f}s"


def raw_call(method: str, path: str, body=None, auth=(USER, PASSWORD)):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, err.headers, err.read()
    text = raw.decode()
    try:
        parsed = json.loads(text) if text else None
    except json.JSONDecodeError:
        parsed = text
    return status, headers, parsed


def call(method: str, path: str, body=None, auth=(USER, PASSWORD)):
    status, _, parsed = raw_call(method, path, body, auth)
    return status, parsed


def save(name: str, method: str, path: str, body=None, auth=(USER, PASSWORD), note: str = ""):
    status, headers, parsed = raw_call(method, path, body, auth)
    (OUT / f"{name}.json").write_text(json.dumps(parsed, indent=2, sort_keys=True) + "\n")
    index.append(
        {
            "file": f"{name}.json",
            "method": method,
            "path": path,
            "request_body": body,
            "auth": "basic" if auth == (USER, PASSWORD) else ("wrong password" if auth else "none"),
            "status": status,
            "content_type": headers.get("Content-Type"),
            "www_authenticate": headers.get("WWW-Authenticate"),
            "note": note,
        }
    )
    return status, parsed


def check(cond: bool, what: str):
    if not cond:
        print(f"CHECK FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"{elapsed()}  ok: {what}")


def q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def poll(what: str, timeout: float, fn, interval: float = 0.5):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        got = fn()
        if got:
            print(f"{elapsed()}  {what} after {time.monotonic() - start:.1f}s")
            return got
        time.sleep(interval)
    print(f"CHECK FAILED: {what} not within {timeout}s", file=sys.stderr)
    sys.exit(1)


SENSOR = "data_refresh.ingest_upstream.wait_for_ingest_upstream"

# 1. health, version, DAGs
st, health = save("health", "GET", "/api/v1/health")
check(st == 200 and health["scheduler"]["status"] == "healthy", "/api/v1/health healthy")
save("health-root", "GET", "/health", auth=None, note="no auth needed")
st, ver = save("version", "GET", "/api/v1/version")
check(st == 200 and ver["version"] == "2.10.5", "/api/v1/version is 2.10.5")
st, dags = save("dags", "GET", "/api/v1/dags")
check({d["dag_id"] for d in dags["dags"]} == {"ovscript_refresh", "ovscript_pausable"}, "two DAGs")
st, tagged = save("dags-tags-data_refresh", "GET", "/api/v1/dags?tags=data_refresh")
check([d["dag_id"] for d in tagged["dags"]] == ["ovscript_refresh"], "?tags=data_refresh")
save("dag", "GET", "/api/v1/dags/ovscript_refresh")
st, tasks = save("dag-tasks", "GET", "/api/v1/dags/ovscript_refresh/tasks")
check(
    any(t["task_id"] == SENSOR and t["class_ref"]["class_name"] == "HttpSensor" for t in tasks["tasks"]),
    "tasks[].class_ref.class_name == HttpSensor",
)

# 2. pause round trip, a successful run
st, d = save("dag-patch-pause", "PATCH", "/api/v1/dags/ovscript_pausable?update_mask=is_paused", {"is_paused": True})
check(st == 200 and d["is_paused"] is True, "PATCH is_paused=true")
st, d = save("dag-patch-unpause", "PATCH", "/api/v1/dags/ovscript_pausable?update_mask=is_paused", {"is_paused": False})
check(st == 200 and d["is_paused"] is False, "PATCH is_paused=false")
st, run = save("dagrun-trigger-pausable", "POST", "/api/v1/dags/ovscript_pausable/dagRuns", {})
check(st == 200, "trigger ovscript_pausable")
pausable_run = run["dag_run_id"]


def pausable_done():
    st, r = call("GET", f"/api/v1/dags/ovscript_pausable/dagRuns/{q(pausable_run)}")
    return r if r["state"] == "success" else None


poll("ovscript_pausable run success", 120, pausable_done)
save("dagrun-success", "GET", f"/api/v1/dags/ovscript_pausable/dagRuns/{q(pausable_run)}")
save("taskinstances-success", "GET", f"/api/v1/dags/ovscript_pausable/dagRuns/{q(pausable_run)}/taskInstances")

# 3. the refresh DAG, waiting on its sensor
st, d = call("PATCH", "/api/v1/dags/ovscript_refresh?update_mask=is_paused", {"is_paused": False})
check(st == 200 and d["is_paused"] is False, "unpause ovscript_refresh")
t_trigger = time.monotonic()
st, run = save("dagrun-trigger", "POST", "/api/v1/dags/ovscript_refresh/dagRuns", {})
check(st == 200 and run["state"] == "queued", "trigger ovscript_refresh ({}) -> queued")
run_id = run["dag_run_id"]
ti_path = f"/api/v1/dags/ovscript_refresh/dagRuns/{q(run_id)}/taskInstances"


def sensor_waiting():
    st, tis = call("GET", ti_path)
    for ti in tis["task_instances"]:
        if ti["task_id"] == SENSOR and ti["state"] == "up_for_reschedule":
            return ti
    return None


ti = poll("sensor up_for_reschedule", 180, sensor_waiting)
t_sensor = time.monotonic() - t_trigger
check(ti["operator"] == "HttpSensor", f"taskInstance operator == HttpSensor ({ti['operator']!r})")
st, tis = save("taskinstances-sensor-waiting", "GET", ti_path, note="sensor up_for_reschedule")
save("taskinstance-sensor", "GET", f"{ti_path}/{SENSOR}")
st, running = save("dagruns-running", "GET", "/api/v1/dags/~/dagRuns?state=running")
check(any(r["dag_run_id"] == run_id for r in running["dag_runs"]), "dagRuns?state=running lists the run")
save(
    "dagruns-list-running",
    "POST",
    "/api/v1/dags/~/dagRuns/list",
    {"states": ["running"], "page_limit": 100, "page_offset": 0},
)
save("dagrun-running", "GET", f"/api/v1/dags/ovscript_refresh/dagRuns/{q(run_id)}")
st, second = save(
    "dagrun-trigger-second", "POST", "/api/v1/dags/ovscript_refresh/dagRuns", {}, note="max_active_runs=1: stays queued"
)
time.sleep(5)
st, both = save("dagruns-refresh", "GET", "/api/v1/dags/ovscript_refresh/dagRuns")
states = {r["dag_run_id"]: r["state"] for r in both["dag_runs"]}
check(states.get(second["dag_run_id"]) == "queued", "second run stays queued (max_active_runs=1)")
save("dagruns-running-queued", "GET", "/api/v1/dags/~/dagRuns?state=running&state=queued")
st, d = save("dag-patch-pause-refresh", "PATCH", "/api/v1/dags/ovscript_refresh?update_mask=is_paused", {"is_paused": True})
check(d["is_paused"] is True, "pause ovscript_refresh while its sensor waits")
st, r = call("GET", f"/api/v1/dags/ovscript_refresh/dagRuns/{q(run_id)}")
check(r["state"] == "running", "its run is still running while paused")
call("PATCH", "/api/v1/dags/ovscript_refresh?update_mask=is_paused", {"is_paused": False})

# 4. errors
st, _ = save("error-401", "GET", "/api/v1/dags", auth=(USER, PASSWORD + "-wrong"), note="wrong password")
check(st == 401, "wrong password -> 401")
st, _ = save("error-401-noauth", "GET", "/api/v1/dags", auth=None, note="no Authorization header")
check(st == 401, "no auth -> 401")
st, _ = save("error-404-dag", "PATCH", "/api/v1/dags/no_such_dag?update_mask=is_paused", {"is_paused": True})
check(st == 404, "unknown DAG -> 404")
st, body = save(
    "taskinstances-unknown-run",
    "GET",
    "/api/v1/dags/ovscript_refresh/dagRuns/no_such_run/taskInstances",
    note="NOT a 404: 200 with an empty list",
)
check(st == 200 and body["task_instances"] == [], "taskInstances of an unknown run -> 200, empty list")
st, _ = save("error-404-dagrun", "GET", "/api/v1/dags/ovscript_refresh/dagRuns/no_such_run")
check(st == 404, "unknown run -> 404")
st, _ = save("error-400-limit", "GET", "/api/v1/dags/~/dagRuns?limit=abc")
check(st == 400, "bad limit -> 400")
st, _ = save("error-409-duplicate-run", "POST", "/api/v1/dags/ovscript_refresh/dagRuns", {"dag_run_id": run_id})
check(st == 409, "duplicate dag_run_id -> 409")

# How a test cleans up after itself: end the waiting run (PATCH state=failed), delete the queued one.
st, ended = save(
    "dagrun-patch-failed",
    "PATCH",
    f"/api/v1/dags/ovscript_refresh/dagRuns/{q(run_id)}",
    {"state": "failed"},
    note="ends the run: the waiting sensor becomes failed, the not-started task skipped",
)
check(st == 200 and ended["state"] == "failed", "PATCH dagRun state=failed")
save("taskinstances-after-failed", "GET", ti_path)
st, _ = save(
    "dagrun-delete",
    "DELETE",
    f"/api/v1/dags/ovscript_refresh/dagRuns/{q(second['dag_run_id'])}",
    note="204, empty body (saved as null)",
)
check(st == 204, "DELETE dagRun -> 204")
st, none_running = save("dagruns-running-empty", "GET", "/api/v1/dags/~/dagRuns?state=running")
check(none_running["total_entries"] == 0 and none_running["dag_runs"] == [], "no run running after clean-up")

# 5. page cap
call("PATCH", "/api/v1/dags/ovscript_pausable?update_mask=is_paused", {"is_paused": True})
st, all_runs = call("GET", "/api/v1/dags/~/dagRuns?limit=1")
for i in range(max(0, 105 - all_runs["total_entries"])):
    st, _ = call("POST", "/api/v1/dags/ovscript_pausable/dagRuns", {"dag_run_id": f"ovscript_cap_{i:03d}"})
    if st != 200:
        check(False, f"trigger page-cap run {i}: {st}")
st, page = save("dagruns-limit1000", "GET", "/api/v1/dags/~/dagRuns?limit=1000", note="limit capped at 100")
check(len(page["dag_runs"]) == 100 and page["total_entries"] > 100,
      f"limit=1000 -> {len(page['dag_runs'])} runs, total_entries {page['total_entries']}")
st, rest = save("dagruns-limit1000-offset100", "GET", "/api/v1/dags/~/dagRuns?limit=1000&offset=100")
check(len(rest["dag_runs"]) == page["total_entries"] - 100, f"offset=100 -> the other {len(rest['dag_runs'])}")
st, nolimit = call("GET", "/api/v1/dags/~/dagRuns")
check(len(nolimit["dag_runs"]) == 100, "no limit -> 100 (fallback_page_limit)")

# 6. /api/v1/health once the scheduler is gone: still HTTP 200, read the fields
pidfile = os.environ.get("OVSCRIPT_TEST_AIRFLOW_PIDFILE")
if pidfile and os.path.exists(pidfile):
    import signal

    pids = dict(line.split() for line in Path(pidfile).read_text().splitlines() if line.strip())
    os.kill(int(pids["scheduler"]), signal.SIGTERM)

    def unhealthy():
        st, h = call("GET", "/api/v1/health")
        return h if h["scheduler"]["status"] == "unhealthy" else None

    poll("health says scheduler unhealthy (scheduler stopped)", 120, unhealthy, interval=2)
    st, h = save("health-scheduler-down", "GET", "/api/v1/health", note="scheduler stopped: still 200")
    check(st == 200 and h["scheduler"]["status"] == "unhealthy", "health: 200 with scheduler unhealthy")

(OUT / "index.json").write_text(json.dumps(index, indent=2) + "\n")
print(f"{elapsed()}  trigger -> sensor up_for_reschedule: {t_sensor:.1f}s")
print(f"{elapsed()}  wrote {len(index)} samples to {OUT}")
