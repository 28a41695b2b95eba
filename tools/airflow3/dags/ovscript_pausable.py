"""ovscript test DAG for Airflow 3: trivial, never scheduled; for pause/unpause round trips.

The Airflow 3 twin of tools/airflow/dags/ovscript_pausable.py, on the Task SDK (`airflow.sdk`).
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(
    dag_id="ovscript_pausable",
    description="ovscript test: a trivial DAG for pause/unpause",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["ovscript_test"],
    default_args={"owner": "ovscript-test"},
) as dag:
    EmptyOperator(task_id="noop")
