"""The scale harness's DAG: ``stitch_scheduled_sync``'s mapped sync-and-wait group, triggered on demand.

The same tasks as the example (start a sync and wait for its extraction in the triggerer, then wait for
the loads with a deferrable sensor), with ``schedule=None`` so only the harness starts runs, and retries so
a task whose Celery worker dies is tried again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task, task_group

from airflow_provider_stitch.operators import StitchStartReplicationOperator
from airflow_provider_stitch.sensors import StitchLoadSensor

with DAG(
    dag_id="stitch_scale_sync",
    description="Sync N Stitch sources at once; every wait deferred to the triggerers",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1000,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5)},
    params={"source_ids": Param([], type="array", items={"type": "integer"})},
    tags=["stitch", "scale"],
) as dag:

    @task
    def sources_to_sync(params: dict[str, Any] | None = None) -> list[int]:
        """The source ids the harness passed in the run's conf."""
        return [int(source_id) for source_id in (params or {}).get("source_ids") or []]

    @task_group
    def sync_source(source_id: int) -> None:
        """Start one source's sync, wait for its extraction, then for its loads."""
        start = StitchStartReplicationOperator(
            task_id="start_replication",
            source_id=source_id,
            wait_for_completion=True,
            deferrable=True,
        )
        loads = StitchLoadSensor(
            task_id="wait_for_loads",
            source_id=source_id,
            replication_task_id="sync_source.start_replication",
            deferrable=True,
            timeout=60 * 60,
        )
        start >> loads

    @task
    def refresh_reports(source_ids: list[int]) -> int:
        """Stand-in for the downstream work; returns how many sources were synced."""
        return len(source_ids)

    source_ids = sources_to_sync()
    sync_source.expand(source_id=source_ids) >> refresh_reports(source_ids)
