"""ovscript test DAG for Airflow 3: a data refresh whose HttpSensor waits forever in reschedule mode.

The Airflow 3 twin of tools/airflow/dags/ovscript_refresh.py (same DAG id, tag, task ids and
operator), written against the Task SDK (`airflow.sdk`), which Airflow 3 DAG files import:

- tag `data_refresh`, `max_active_runs=1`, no schedule (runs only when triggered);
- the sensor's task id is nested in task groups:
  `data_refresh.ingest_upstream.wait_for_ingest_upstream`;
- the sensor is an `HttpSensor` in `mode="reschedule"`, so between pokes its task instance is
  `up_for_reschedule` and the DAG run stays `running`.

The sensor polls the connection `ovscript_upstream` (tools/airflow3/start.sh sets
`AIRFLOW_CONN_OVSCRIPT_UPSTREAM=http://127.0.0.1:<api-server port>`) at a path that the
api-server answers with 404. `HttpSensor.poke` turns an HTTP error whose code is in
`response_error_codes_allowlist` (`["404"]`, given explicitly) into `False` = keep waiting; a 2xx
answer goes to `response_check`, which never accepts. So the sensor never succeeds and never
fails; it stops only by its (long) timeout.

`OVSCRIPT_TEST_SENSOR_POKE_INTERVAL` (seconds, default 30) sets the poke interval.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.providers.http.sensors.http import HttpSensor
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TaskGroup

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
