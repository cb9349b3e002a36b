"""A task's deadline bounds the requests it has in flight: a Jobs read that never answers cannot hold a
trigger or the start-replication operator past its deadline (with the default 30 s x 5 attempts per request)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_stitch.emulator import StitchEmulator

FRESHDESK = {"api_key": "deadline-test-key", "domain": "shop", "start_date": "2024-01-01T00:00:00Z"}
HANG_JOBS = {"pattern": r"/extractions$", "action": "hang"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with StitchEmulator(run_schedules=False) as server:
        yield server


@pytest.fixture
def connected(emulator: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow_provider_stitch.api.jobs import forget_monitors

    emulator.control.reset()
    monkeypatch.setenv(
        "AIRFLOW_CONN_STITCH_DEFAULT",
        json.dumps(
            {
                "conn_type": "stitch",
                "host": emulator.base_url,
                "password": emulator.token,
                "extra": {"stitch_client_id": emulator.client_id, "budget_backend": "memory"},
            }
        ),
    )
    forget_monitors()
    yield emulator
    emulator.control.clear_faults()
    forget_monitors()


def _running_source(emulator: Any) -> tuple[int, str]:
    """A source with a sync that stays running for an hour."""
    from airflow_provider_stitch.hooks.stitch import StitchHook

    client = StitchHook().get_client()
    source = client.create_source("platform.freshdesk", "Deadline shop", FRESHDESK)
    emulator.control.arrange(source.id, durations={"discovery": 5.0, "tap": 3600.0, "target": 5.0})
    job = client.start_sync(source.id)
    return source.id, str(job.job_name)


def test_a_trigger_whose_jobs_read_never_answers_ends_at_its_deadline(connected: Any) -> None:
    from airflow_provider_stitch.api.jobs import monitor_for_client
    from airflow_provider_stitch.hooks.stitch import StitchHook
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger

    source_id, job_name = _running_source(connected)
    connected.control.set_faults(HANG_JOBS)
    store_now = monitor_for_client(StitchHook().get_client()).now()
    trigger = StitchExtractionTrigger("stitch_default", source_id, job_name=job_name, deadline=store_now + 4)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event

    started = time.monotonic()
    event = asyncio.run(first_event())
    elapsed = time.monotonic() - started

    assert event.payload["status"] == "timeout"
    assert elapsed < 4 + 12, f"the trigger ended {elapsed:.1f} s after starting, deadline 4 s"


def test_the_operator_waiting_in_the_worker_ends_at_its_timeout(connected: Any) -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator

    source_id, _ = _running_source(connected)
    connected.control.clear_faults()
    connected.control.set_faults(HANG_JOBS | {"times": 1000})
    operator = StitchStartReplicationOperator(
        task_id="start", source_id=source_id, wait_for_completion=True, timeout=4, if_running="attach"
    )
    started = time.monotonic()
    with pytest.raises(AirflowException) as failure:
        operator.execute({"ti": _NoXCom()})
    elapsed = time.monotonic() - started

    assert f"Stitch job of source {source_id} did not finish within" in str(failure.value)
    assert elapsed < 4 + 12, f"the operator ended {elapsed:.1f} s after starting, timeout 4 s"


class _NoXCom:
    """Just enough of a task instance for the operator's XCom pushes."""

    def xcom_push(self, key: str, value: Any) -> None:
        return None

    def xcom_pull(self, *args: Any, **kwargs: Any) -> Any:
        return None
