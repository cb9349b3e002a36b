"""Replicate several Stitch sources every morning, then build the reports that read their tables.

One mapped task group per source: start a sync and wait (in the triggerer) for its extraction, which
fails the task with Stitch's own description when a phase failed; then wait until the source's selected
streams have loaded. All the waits share the account's Jobs budget (30 requests per 10 minutes), so
the number of sources does not multiply the requests. The sources are the ``source_ids`` param, or,
when it is empty, every active, fully configured source of the account.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task, task_group

from airflow_provider_stitch.operators import StitchStartReplicationOperator
from airflow_provider_stitch.sensors import StitchLoadSensor

with DAG(
    dag_id="stitch_scheduled_sync",
    description="Sync Stitch sources, wait for their loads, then refresh the reports",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "source_ids": Param(
            [],
            type="array",
            items={"type": "integer"},
            description="Stitch source ids to sync; empty means every active, fully configured source.",
        )
    },
    tags=["stitch", "example"],
) as dag:

    @task
    def sources_to_sync(params: dict[str, Any] | None = None) -> list[int]:
        """The source ids to replicate in this run."""
        chosen = [int(source_id) for source_id in (params or {}).get("source_ids") or []]
        if chosen:
            return chosen
        from airflow_provider_stitch.hooks.stitch import StitchHook

        sources = StitchHook().get_client().list_sources()
        return [
            source.id
            for source in sources
            if not source.is_paused
            and not source.is_deleted
            and source.report_card is not None
            and source.report_card.current_step_type == "fully_configured"
        ]

    # [START howto_scheduled_sync_group]
    @task_group
    def sync_source(source_id: int) -> None:
        """Start one source's sync, wait for its extraction, then for its loads."""
        start = StitchStartReplicationOperator(
            task_id="start_replication",
            source_id=source_id,
            wait_for_completion=True,
            deferrable=True,
        )
        # Reads this map index's job from start_replication's XCom and waits for the loads after it.
        loads = StitchLoadSensor(
            task_id="wait_for_loads",
            source_id=source_id,
            replication_task_id="sync_source.start_replication",
            deferrable=True,
            timeout=3 * 60 * 60,
        )
        start >> loads

    # [END howto_scheduled_sync_group]

    @task
    def refresh_reports(source_ids: list[int]) -> None:
        """Stand-in for the real downstream work, e.g. ``dbt build`` or a report refresh."""
        print(f"Stitch loaded sources {sorted(source_ids)}; the warehouse tables are fresh.")

    source_ids = sources_to_sync()
    sync_source.expand(source_id=source_ids) >> refresh_reports(source_ids)
