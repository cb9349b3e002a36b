"""StitchConnectionCheckTrigger: serialisation, outcomes, deadline, and a loop that is never blocked."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise
from typing import Any

import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.models import ConnectionCheck
from airflow_provider_stitch.emulator.harness import StitchEmulator
from airflow_provider_stitch.triggers.connection_check import (
    CHECK_FAILED,
    CHECK_RUNNING,
    CHECK_SUCCEEDED,
    StitchConnectionCheckTrigger,
    read_connection_check,
)
from tests.testkit.operators import POSTGRES_SOURCE_PROPERTIES, retry_at_once, wire_default_connection

CLASSPATH = "airflow_provider_stitch.triggers.connection_check.StitchConnectionCheckTrigger"


@pytest.fixture
def emulator(stitch_emulator: StitchEmulator, monkeypatch: pytest.MonkeyPatch) -> StitchEmulator:
    """A reset real-clock emulator wired as ``stitch_default``; clients retry without waiting."""
    retry_at_once(monkeypatch)
    return wire_default_connection(stitch_emulator, monkeypatch)


def make_source(emulator, **properties: Any) -> int:
    with StitchClient(emulator.token, base_url=emulator.base_url) as client:
        return client.create_source(
            "platform.postgres", "Shop DB", {**POSTGRES_SOURCE_PROPERTIES, **properties}
        ).id


async def collect(trigger: StitchConnectionCheckTrigger) -> list[Any]:
    return [event.payload async for event in trigger.run()]


def test_serialize_round_trips_with_primitives_only():
    trigger = StitchConnectionCheckTrigger(
        source_id=5, deadline=1234.5, stitch_conn_id="other", poll_interval=2, check_job_name="1.5.check.x"
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "source_id": 5,
        "deadline": 1234.5,
        "stitch_conn_id": "other",
        "poll_interval": 2.0,
        "check_job_name": "1.5.check.x",
    }
    assert all(isinstance(v, (int, float, str, type(None))) for v in kwargs.values())
    assert StitchConnectionCheckTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_succeeded_check_gives_one_success_event(emulator):
    emulator.control.configure(check_seconds=0.3)
    source_id = make_source(emulator)
    trigger = StitchConnectionCheckTrigger(source_id=source_id, deadline=time.time() + 10, poll_interval=0.05)
    [event] = asyncio.run(collect(trigger))
    assert event["status"] == "success"
    assert event["source_id"] == source_id
    assert event["check_job_name"].startswith(f"{emulator.client_id}.{source_id}.check.")


def test_failed_check_carries_stitch_message(emulator):
    source_id = make_source(emulator, password="wrong")
    trigger = StitchConnectionCheckTrigger(source_id=source_id, deadline=time.time() + 10, poll_interval=0.05)
    [event] = asyncio.run(collect(trigger))
    assert event["status"] == "failed"
    assert 'FATAL:  password authentication failed for user "stitch"' in event["message"]


def test_deadline_ends_the_wait(emulator):
    emulator.control.configure(check_seconds=60.0)
    source_id = make_source(emulator)
    trigger = StitchConnectionCheckTrigger(
        source_id=source_id, deadline=time.time() + 0.3, poll_interval=0.05
    )
    started = time.monotonic()
    [event] = asyncio.run(collect(trigger))
    assert event["status"] == "timeout"
    assert "gave up waiting for the connection check" in event["message"]
    assert time.monotonic() - started < 5


def test_unknown_source_reports_an_error(emulator):
    trigger = StitchConnectionCheckTrigger(source_id=987654, deadline=time.time() + 0.3, poll_interval=0.05)
    [event] = asyncio.run(collect(trigger))
    assert event["status"] == "error"
    assert "404 InvalidId: source not found (987654)" in event["message"]


def test_waiting_triggers_do_not_block_the_event_loop(emulator):
    """Three triggers whose first poll the emulator answers after 1 s each.

    A blocking client would serve them one after another (3 s or more) and freeze the loop for a whole
    second at a time; a non-blocking one waits for all three together while the loop keeps turning.
    """
    answer_delay = 1.0
    emulator.control.configure(check_seconds=0.0)
    with StitchClient(emulator.token, base_url=emulator.base_url) as client:
        sources = [
            client.create_source("platform.postgres", f"Shop {n}", dict(POSTGRES_SOURCE_PROPERTIES)).id
            for n in range(3)
        ]
    emulator.control.set_faults(
        pattern="/last-connection-check$", method="GET", action="delay", delay=answer_delay, times=3
    )

    async def scenario() -> tuple[list[Any], float, float]:
        tick_times: list[float] = []

        async def ticker() -> None:
            while True:
                tick_times.append(time.monotonic())
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        triggers = [
            StitchConnectionCheckTrigger(source_id=s, deadline=time.time() + 30, poll_interval=0.05)
            for s in sources
        ]
        started = time.monotonic()
        results = await asyncio.gather(*(collect(t) for t in triggers))
        elapsed = time.monotonic() - started
        tick_task.cancel()
        longest_stall = max(later - earlier for earlier, later in pairwise(tick_times))
        return results, elapsed, longest_stall

    results, elapsed, longest_stall = asyncio.run(scenario())
    assert [r[0]["status"] for r in results] == ["success"] * 3
    assert [rule["hits"] for rule in emulator.control.faults()] == [3]
    assert elapsed < 3 * answer_delay  # the three delayed answers were awaited together
    assert longest_stall < answer_delay  # no request held the loop while it waited


@pytest.mark.parametrize(
    ("payload", "expected", "state"),
    [
        (None, None, CHECK_RUNNING),
        ({"name": "c1", "status": "running"}, None, CHECK_RUNNING),
        (
            {"name": "old", "status": "succeeded", "completion_time": "2020-01-01T00:00:00Z"},
            "new",
            CHECK_RUNNING,
        ),
        (
            {"name": "c1", "status": "succeeded", "completion_time": "2020-01-01T00:00:00Z"},
            "c1",
            CHECK_SUCCEEDED,
        ),
        (
            {"name": "c1", "status": "failed", "error": True, "tap_error_message": "tap broke"},
            None,
            CHECK_FAILED,
        ),
    ],
)
def test_read_connection_check(payload, expected, state):
    check = ConnectionCheck.model_validate(payload) if payload is not None else None
    outcome = read_connection_check(check, 9, expected)
    assert outcome.state == state
    if state == CHECK_FAILED:
        assert outcome.message == "connection check c1 of source 9 failed: tap broke"
