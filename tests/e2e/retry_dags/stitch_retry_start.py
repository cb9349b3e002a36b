"""A start-replication task with one retry, for the end-to-end test of one sync per task across tries."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_stitch.operators import StitchStartReplicationOperator

with DAG(
    dag_id="stitch_retry_start",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"source_id": Param(0, type="integer")},
    tags=["stitch", "test"],
) as dag:
    StitchStartReplicationOperator(
        task_id="start_sync",
        source_id="{{ params.source_id }}",
        wait_for_completion=True,
        deferrable=False,
        poll_interval=0.5,
        retries=1,
        retry_delay=timedelta(seconds=4),
    )
