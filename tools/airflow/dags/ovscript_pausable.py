"""ovscript test DAG: trivial, never scheduled; for pause/unpause round trips and quick runs."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow import DAG
from airflow.operators.empty import EmptyOperator

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
