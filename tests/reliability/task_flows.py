"""The example DAGs' task sequences, run in-process with a small XCom store instead of a scheduler.

``run_onboarding`` mirrors ``example_dags/stitch_onboard_source.py`` (destination -> source with its
connection check -> stream selection -> replication -> loads); ``run_scheduled_sync`` is the nightly part
(start a sync, wait for the extraction, then for the loads). Waits are worker waits (not deferred), with
sleeps scaled to the emulator's speed. ``account_census`` reads duplicates and jobs from the emulator.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: What the onboarding example creates (same names, types and streams as the DAG file).
DESTINATION_NAME = "Analytics warehouse"
SOURCE_NAME = "Shop database"
WAREHOUSE_PROPERTIES = {
    "host": "warehouse.example.com",
    "port": "5432",
    "username": "stitch_loader",
    "password": "CANARY-warehouse-password-7d1f",
    "database": "analytics",
    "ssl": True,
    "encryption_type": "none",
}
SOURCE_PROPERTIES = {
    "host": "shop-db.example.com",
    "port": 5432,
    "user": "stitch_reader",
    "password": "CANARY-source-password-93ab",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
    "frequency_in_minutes": "360",
}
STREAMS = {
    "public-customers": {"replication_method": "INCREMENTAL", "replication_key": "updated_at"},
    "public-orders": {
        "replication_method": "INCREMENTAL",
        "replication_key": "updated_at",
        "fields": ["customer_id", "total", "status", "updated_at"],
    },
}


class XComStore:
    """XCom of one DAG run: ``(task_id, key) -> value``, JSON-checked like Airflow's."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    def context_for(self, task_id: str) -> dict[str, Any]:
        """The execution context a task sees: a task instance that pushes under ``task_id``."""
        store = self

        class TaskInstance:
            def xcom_push(self, key: str, value: Any) -> None:
                json.dumps(value)
                store.values[(task_id, key)] = value

            def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
                return store.values.get((task_ids, key))

        instance = TaskInstance()
        return {"ti": instance, "task_instance": instance}

    def run(self, operator: Any) -> Any:
        """Execute a task and keep its return value as Airflow would."""
        result = operator.execute(self.context_for(operator.task_id))
        self.values[(operator.task_id, "return_value")] = result
        return result

    def poke_until_done(self, sensor: Any, sleep: Callable[[float], None], *, limit: float) -> Any:
        """Poke a sensor until it is done, sleeping ``poke_interval`` between pokes; return its XCom value."""
        context = self.context_for(sensor.task_id)
        give_up = time.monotonic() + limit
        while True:
            answer = sensor.poke(context)
            if answer:
                value = getattr(answer, "xcom_value", None)
                self.values[(sensor.task_id, "return_value")] = value
                return value
            if time.monotonic() > give_up:
                raise TimeoutError(f"{sensor.task_id} did not finish within {limit} real seconds")
            sleep(sensor.poke_interval)


@dataclass
class FlowResult:
    """Ids and answers a flow produced."""

    destination_id: int | None = None
    source_id: int | None = None
    selected: list[str] = field(default_factory=list)
    job_name: str | None = None
    loads: dict[str, Any] | None = None


def run_onboarding(sleep: Callable[[float], None], *, check_poll: float, wait_limit: float) -> FlowResult:
    """The onboarding DAG's five tasks, in order, as worker waits.

    :param sleep: how the load sensor sleeps between pokes (scaled to the emulator's speed).
    :param check_poll: real seconds between looks at the connection check.
    :param wait_limit: real seconds the load sensor may take.
    """
    from airflow_provider_stitch.operators import (
        StitchCreateDestinationOperator,
        StitchCreateSourceOperator,
        StitchSelectStreamsOperator,
        StitchStartReplicationOperator,
    )
    from airflow_provider_stitch.sensors import StitchLoadSensor

    xcom, result = XComStore(), FlowResult()
    result.destination_id = xcom.run(
        StitchCreateDestinationOperator(
            task_id="create_destination",
            name=DESTINATION_NAME,
            destination_type="postgres",
            properties=dict(WAREHOUSE_PROPERTIES),
        )
    )
    result.source_id = xcom.run(
        StitchCreateSourceOperator(
            task_id="create_source",
            source_type="platform.hp-postgres",
            display_name=SOURCE_NAME,
            destination_id=result.destination_id,
            properties=dict(SOURCE_PROPERTIES),
            wait_for_connection_check=True,
            deferrable=False,
            poll_interval=check_poll,
        )
    )
    result.selected = xcom.run(
        StitchSelectStreamsOperator(task_id="select_streams", source_id=result.source_id, streams=STREAMS)
    )
    result.job_name = xcom.run(
        StitchStartReplicationOperator(
            task_id="start_replication",
            source_id=result.source_id,
            wait_for_completion=True,
            deferrable=False,
        )
    )
    result.loads = xcom.poke_until_done(
        StitchLoadSensor(
            task_id="wait_for_loads",
            source_id=result.source_id,
            streams=result.selected,
            replication_task_id="start_replication",
            deferrable=False,
            poke_interval=1.0,
        ),
        sleep,
        limit=wait_limit,
    )
    return result


def run_scheduled_sync(source_id: int, sleep: Callable[[float], None], *, wait_limit: float) -> FlowResult:
    """The nightly sync: start a job without waiting, then an extraction sensor and a load sensor."""
    from airflow_provider_stitch.operators import StitchStartReplicationOperator
    from airflow_provider_stitch.sensors import StitchExtractionSensor, StitchLoadSensor

    xcom, result = XComStore(), FlowResult(source_id=source_id)
    result.job_name = xcom.run(
        StitchStartReplicationOperator(
            task_id="start_replication", source_id=source_id, wait_for_completion=False, deferrable=False
        )
    )
    xcom.poke_until_done(
        StitchExtractionSensor(
            task_id="wait_for_extraction",
            source_id=source_id,
            replication_task_id="start_replication",
            deferrable=False,
            poke_interval=1.0,
        ),
        sleep,
        limit=wait_limit,
    )
    result.loads = xcom.poke_until_done(
        StitchLoadSensor(
            task_id="wait_for_loads",
            source_id=source_id,
            replication_task_id="start_replication",
            deferrable=False,
            poke_interval=1.0,
        ),
        sleep,
        limit=wait_limit,
    )
    return result


@dataclass(frozen=True)
class AccountCensus:
    """What the emulator holds for the primary account."""

    live_sources: Counter[str]
    live_destinations: Counter[str]
    jobs_per_source: Counter[int]

    @property
    def duplicate_sources(self) -> int:
        """Live sources beyond the first of each display name."""
        return sum(count - 1 for count in self.live_sources.values())

    @property
    def duplicate_destinations(self) -> int:
        """Live destinations beyond the first of each name."""
        return sum(count - 1 for count in self.live_destinations.values())


def account_census(emulator: Any) -> AccountCensus:
    """Count live sources and destinations by name, and jobs by source, from the emulator's state."""
    account = next(a for a in emulator.control.state()["accounts"] if a["client_id"] == emulator.client_id)
    return AccountCensus(
        live_sources=Counter(s["display_name"] for s in account["sources"] if s["deleted_at"] is None),
        live_destinations=Counter(d["name"] for d in account["destinations"]),
        jobs_per_source=Counter(int(job["source_id"]) for job in account["jobs"]),
    )
