"""ovscript test DAG: a data refresh whose HttpSensor waits forever in reschedule mode.

Mirrors the shape of Openverse's `image_data_refresh` / `audio_data_refresh` as far as the
catalog and ingestion-server runbooks see it:

- tag `data_refresh`, `max_active_runs=1`, no schedule (runs only when triggered);
- the sensor's task id is nested in task groups:
  `data_refresh.ingest_upstream.wait_for_ingest_upstream`;
- the sensor is an `HttpSensor` in `mode="reschedule"`, so between pokes its task instance is
  `up_for_reschedule` and the DAG run stays `running`.

The sensor polls the connection `ovscript_upstream` (start.sh sets
`AIRFLOW_CONN_OVSCRIPT_UPSTREAM=http://127.0.0.1:<webserver port>`) at a path that the Airflow
webserver answers with 404. With apache-airflow-providers-http 5.x, `HttpSensor.poke` turns an
HTTP error whose code is in `response_error_codes_allowlist` (default `["404"]`, given explicitly
here) into `False` = keep waiting; any 2xx answer goes to `response_check`, which never accepts.
So the sensor never succeeds and never fails on 404; it stops only by its (long) timeout.

`OVSCRIPT_TEST_SENSOR_POKE_INTERVAL` (seconds, default 30) sets the poke interval. Each poke
is a whole `airflow tasks run` process, and the SequentialExecutor runs it inside the
scheduler's loop, so a longer interval keeps the scheduler free for the tests' other DAGs and
keeps the task `up_for_reschedule` for most of the time.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.providers.http.sensors.http import HttpSensor
from airflow.utils.task_group import TaskGroup

POKE_INTERVAL = int(os.environ.get("OVSCRIPT_TEST_SENSOR_POKE_INTERVAL", "30"))


def _never_ready(response) -> bool:
    # Reached only for a non-error answer; the upstream is never "done".
    return False


with DAG(
    dag_id="ovscript_refresh",
    description="ovscript test: a data refresh waiting on an HttpSensor (reschedule mode)",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["data_refresh"],
    default_args={"owner": "ovscript-test", "retries": 0},
) as dag:
    with TaskGroup(group_id="data_refresh"):
        with TaskGroup(group_id="ingest_upstream"):
            wait_for_ingest_upstream = HttpSensor(
                task_id="wait_for_ingest_upstream",
                http_conn_id="ovscript_upstream",
                endpoint="ovscript-test/upstream-ingestion-status",
                method="GET",
                response_error_codes_allowlist=["404"],
                response_check=_never_ready,
                mode="reschedule",
                poke_interval=POKE_INTERVAL,
                timeout=timedelta(days=7).total_seconds(),
            )
        promote = EmptyOperator(task_id="promote")
        wait_for_ingest_upstream >> promote
