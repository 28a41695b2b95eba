#!/usr/bin/env python3
"""Exercise a real Airflow 3 started by tools/airflow3/start.sh and save its REST API answers.

Usage (Airflow 3 must be running; the variables come from start.sh / with-airflow.sh):
    OVSCRIPT_TEST_AIRFLOW_VERSIONS=3 tools/with-airflow.sh python3 tools/airflow3/capture_samples.py [OUT_DIR]
OUT_DIR defaults to tools/airflow3/samples. Standard library only. About 30 s.

What it does, in order (and checks, exiting 1 if a check fails):
  1. version and monitor/health without a token; /api/v1 and /health are gone (404);
  2. POST /auth/token (wrong password: 401; right one: 201 with access_token); no token: 401,
     an invalid one: 403, an expired one is 401 "Token Expired" (not made here: it needs the
     server's secret; seen by hand);
  3. the DAG list, DAGs by tag, one DAG, its tasks; PATCH is_paused round trip on
     ovscript_pausable, and its validation errors (422: a missing or an unknown field);
  4. trigger ovscript_refresh with {"logical_date": null} and wait until its HttpSensor task is
     `up_for_reschedule` and the run is listed by GET /api/v2/dags/~/dagRuns?state=running;
  5. errors: unknown DAG, unknown run, unknown run's task instances (404), a bad limit (422).
Each sample is the response body as JSON, exactly as received (re-indented), except that a
token is replaced by "<JWT>"; index.json lists method, path, request body, status and content
type of each.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

URL = os.environ["OVSCRIPT_TEST_AIRFLOW3_URL"].rstrip("/")
USER = os.environ["OVSCRIPT_TEST_AIRFLOW3_USER"]
PASSWORD = os.environ["OVSCRIPT_TEST_AIRFLOW3_PASSWORD"]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "samples"
OUT.mkdir(parents=True, exist_ok=True)
SENSOR = "data_refresh.ingest_upstream.wait_for_ingest_upstream"

index: list[dict] = []
T0 = time.monotonic()


def raw_call(method: str, path: str, body=None, token: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
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


def save(name: str, method: str, path: str, body=None, token=None, note: str = ""):
    status, headers, parsed = raw_call(method, path, body, token)
    shown = dict(parsed) if isinstance(parsed, dict) else parsed
    if isinstance(shown, dict) and "access_token" in shown:
        shown["access_token"] = "<JWT>"
    (OUT / f"{name}.json").write_text(json.dumps(shown, indent=2, sort_keys=True) + "\n")
    index.append(
        {
            "file": f"{name}.json",
            "method": method,
            "path": path,
            "request_body": body,
            "auth": "bearer" if token else "none",
            "status": status,
            "content_type": headers.get("Content-Type"),
            "www_authenticate": headers.get("WWW-Authenticate"),
            "note": note,
        }
    )
    return status, parsed


def check(condition: bool, what: str):
    if not condition:
        print(f"capture: FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"{time.monotonic() - T0:6.1f}s ok: {what}")


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


status, version = save("version", "GET", "/api/v2/version", note="no auth needed")
check(status == 200 and version["version"] == "3.3.2", "version 3.3.2 without a token")
status, _ = save("health", "GET", "/api/v2/monitor/health", note="no auth needed")
check(status == 200, "monitor/health without a token")
status, _ = save("error-404-api-v1", "GET", "/api/v1/version")
check(status == 404, "/api/v1 is gone")
status, _ = save("error-404-health-root", "GET", "/health")
check(status == 404, "/health moved")
status, _ = save("error-404-route", "GET", "/api/v2/nowhere")
check(status == 404, "an unknown route is 404")

creds = {"username": USER, "password": "wrong-password"}
status, _ = save("error-401-token", "POST", "/auth/token", creds)
check(status == 401, "a wrong password gets no token")
status, _ = save("error-422-token", "POST", "/auth/token", {"username": USER})
check(status == 422, "a token request without a password is a validation error")
status, answer = save("token", "POST", "/auth/token", {"username": USER, "password": PASSWORD})
check(status == 201 and answer["access_token"].count(".") == 2, "a JWT for the right password")
token = answer["access_token"]
status, _ = save("error-401-no-token", "GET", "/api/v2/dags")
check(status == 401, "no token: 401")
status, _ = save("error-403-bad-token", "GET", "/api/v2/dags", token="not.a.jwt")
check(status == 403, "an invalid token: 403")

status, _ = save("dags", "GET", "/api/v2/dags", token=token)
check(status == 200, "the DAG list")
status, dags = save("dags-tags-data_refresh", "GET", "/api/v2/dags?tags=data_refresh", token=token)
check([d["dag_id"] for d in dags["dags"]] == ["ovscript_refresh"], "DAGs by tag")
save("dag", "GET", "/api/v2/dags/ovscript_refresh", token=token)
status, tasks = save("dag-tasks", "GET", "/api/v2/dags/ovscript_refresh/tasks", token=token)
check(status == 200, "a DAG's tasks")
pause = "/api/v2/dags/ovscript_pausable?update_mask=is_paused"
status, dag = save("dag-patch-pause", "PATCH", pause, {"is_paused": True}, token)
check(status == 200 and dag["is_paused"] is True, "pause")
status, dag = save("dag-patch-unpause", "PATCH", pause, {"is_paused": False}, token)
check(status == 200 and dag["is_paused"] is False, "unpause")
status, _ = save("error-422-patch-extra", "PATCH", pause, {"is_paused": False, "x": 1}, token)
check(status == 422, "an unknown field in the PATCH body is rejected")
status, _ = save("error-422-patch-missing", "PATCH", pause, {}, token)
check(status == 422, "a PATCH body without is_paused is rejected")
status, _ = save("error-404-dag", "GET", "/api/v2/dags/no_such_dag", token=token)
check(status == 404, "unknown DAG")
status, _ = save(
    "error-404-dag-patch",
    "PATCH",
    "/api/v2/dags/no_such_dag?update_mask=is_paused",
    {"is_paused": True},
    token,
)
check(status == 404, "PATCH of an unknown DAG")
status, _ = save("error-422-limit", "GET", "/api/v2/dags?limit=many", token=token)
check(status == 422, "a bad limit")
status, _ = save("error-404-dagrun", "GET", "/api/v2/dags/ovscript_refresh/dagRuns/nope", token=token)
check(status == 404, "unknown run")
status, _ = save(
    "error-404-dagrun-taskinstances",
    "GET",
    "/api/v2/dags/ovscript_refresh/dagRuns/nope/taskInstances",
    token=token,
)
check(status == 404, "the task instances of an unknown run: 404, not an empty list")

refresh = "/api/v2/dags/ovscript_refresh"
raw_call("PATCH", f"{refresh}?update_mask=is_paused", {"is_paused": False}, token)
status, run = save("dagrun-trigger", "POST", f"{refresh}/dagRuns", {"logical_date": None}, token)
check(status == 200 and run["logical_date"] is None, "a triggered run without a logical date")
run_id = run["dag_run_id"]
tis_path = f"{refresh}/dagRuns/{quote(run_id)}/taskInstances"
deadline = time.monotonic() + 180
while True:
    _, _, tis = raw_call("GET", tis_path, token=token)
    sensor = [t for t in tis["task_instances"] if t["task_id"] == SENSOR]
    if sensor and sensor[0]["state"] == "up_for_reschedule":
        break
    if time.monotonic() > deadline:
        check(False, "the sensor waits within 180 s")
    time.sleep(1)
save("taskinstances-sensor-waiting", "GET", tis_path, token=token)
check(sensor[0]["operator"] == "HttpSensor", "the sensor is up_for_reschedule, operator HttpSensor")
status, running = save("dagruns-running", "GET", "/api/v2/dags/~/dagRuns?state=running", token=token)
check(any(r["dag_run_id"] == run_id for r in running["dag_runs"]), "the run is running")
raw_call("PATCH", f"{refresh}/dagRuns/{quote(run_id)}", {"state": "failed"}, token)

(OUT / "index.json").write_text(json.dumps(index, indent=2) + "\n")
print(f"capture: {len(index)} samples in {OUT}")
