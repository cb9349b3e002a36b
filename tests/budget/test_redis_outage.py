"""Redis stopped mid-wait and started again on its port: no Jobs request meanwhile, and the wait finishes.

Real redis-server on loopback, real HTTP to the manual-clock emulator. While the store does not answer the
budget fails closed (nothing reaches the Jobs endpoints), the wait goes on instead of failing, and once the
server is back (empty: it keeps nothing on disk) the wait finds its job's outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import (
    StitchBudgetStoreError,
    StitchBudgetStoreUnreachable,
    StitchWaitTimeout,
)
from airflow_provider_stitch.api.jobs import ExtractionWatch, JobsMonitor
from tests.testkit.jobs import make_sources, start_jobs
from tests.testkit.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server binary is not installed")

TAP_SECONDS = 60.0
POKE_EVERY = 20.0
#: Emulator seconds the store stays down; the job ends while it is away.
DOWN_FOR = 200.0


@pytest.fixture
def redis_on_port():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def jobs_requests(emulator: Any) -> int:
    return int(emulator.control.stats(include_log=False)["requests"]["jobs"])


def redis_budget(emulator: Any, url: str) -> JobsBudget:
    return JobsBudget(
        emulator.client_id,
        backend=RedisBudgetBackend(url, prefix=f"outage-{time.monotonic_ns()}:"),
        clock=emulator.runtime.clock.now,
    )


def one_running_sync(emulator: Any, budget: JobsBudget) -> tuple[int, str]:
    """A new source with a sync running for ``TAP_SECONDS``: its id and job name."""
    with StitchClient(
        emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=budget
    ) as client:
        (source_id,) = make_sources(emulator, client, 1)
        return source_id, start_jobs(emulator, client, [source_id], lambda _: TAP_SECONDS)[source_id]


async def deferred_wait(
    emulator: Any, budget: JobsBudget, monitor: JobsMonitor, watch: ExtractionWatch, deadline: float
) -> Any:
    """The trigger's path: an async client awaiting ``watch`` through ``monitor`` (at most 120 real s)."""

    async def wait() -> Any:
        async with AsyncStitchClient(
            emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=budget
        ) as client:
            return await monitor.await_extraction(client, watch, deadline=deadline)

    return await asyncio.wait_for(wait(), 120)


def test_an_unreachable_server_is_the_packages_error_naming_it_without_the_password():
    server = RedisServer(password="s3cret-redis-pass")
    server.start()
    backend = RedisBudgetBackend(server.url, prefix="outage-names:")
    try:
        clock_before = backend.now()
        server.stop()
        with pytest.raises(StitchBudgetStoreUnreachable) as raised:
            backend.take("k", 30, 600.0)
        text = str(raised.value)
        assert f"redis://127.0.0.1:{server.port}/0" in text and "no answer" in text
        assert "s3cret-redis-pass" not in text + repr(raised.value.location)
        assert isinstance(raised.value, StitchBudgetStoreError)
        # the server's clock keeps going on the last offset read while the server is away
        assert backend.now() >= clock_before
    finally:
        backend.close()
        server.stop()


def test_a_sensor_keeps_poking_while_redis_is_down_and_finds_the_outcome_after_it_returns(
    stitch_emulator_manual, redis_on_port, caplog
):
    emulator = stitch_emulator_manual
    budget = redis_budget(emulator, redis_on_port.url)
    client = StitchClient(
        emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=budget
    )
    (source_id,) = make_sources(emulator, client, 1)
    job_name = start_jobs(emulator, client, [source_id], lambda _: TAP_SECONDS)[source_id]
    watch = ExtractionWatch(source_id=source_id, job_name=job_name)
    monitor = JobsMonitor("outage-sensor", budget)
    control = emulator.control

    assert monitor.poll_extraction(client, watch) is None  # the store answers: a first page is read
    redis_on_port.stop()
    sent_before = jobs_requests(emulator)
    down_until = control.now() + DOWN_FOR
    with caplog.at_level(logging.WARNING, logger="airflow_provider_stitch.monitor"):
        while control.now() < down_until:
            control.advance(POKE_EVERY)
            assert monitor.poll_extraction(client, watch) is None
    assert jobs_requests(emulator) == sent_before, "a Jobs request went out while the budget store was down"
    warnings = [r.getMessage() for r in caplog.records if "budget store does not answer" in r.getMessage()]
    assert len(warnings) == 1, warnings  # bounded: one warning for the whole outage, not one per poke

    redis_on_port.start()
    outcome = None
    give_up = control.now() + 3 * 600.0
    while outcome is None and control.now() < give_up:
        control.advance(POKE_EVERY)
        outcome = monitor.poll_extraction(client, watch)
    assert outcome is not None and outcome.succeeded and outcome.job_name == job_name
    client.close()


def test_a_deferred_wait_outlives_a_redis_restart_and_sends_nothing_while_it_is_down(
    stitch_emulator_manual, redis_on_port
):
    emulator = stitch_emulator_manual
    control = emulator.control
    budget = redis_budget(emulator, redis_on_port.url)
    source_id, job_name = one_running_sync(emulator, budget)
    watch = ExtractionWatch(source_id=source_id, job_name=job_name)
    started = control.now()
    seen: dict[str, int] = {}

    async def asleep(seconds: float) -> None:
        """Virtual time: the store goes down after the first sleep and comes back DOWN_FOR later."""
        now = control.now()
        if "stopped" not in seen:
            redis_on_port.stop()
            seen["stopped"] = jobs_requests(emulator)
            seen["stopped_at"] = int(now)
        elif "restarted" not in seen and now >= seen["stopped_at"] + DOWN_FOR:
            seen["before_restart"] = jobs_requests(emulator)
            redis_on_port.start()
            seen["restarted"] = 1
        control.advance(max(min(seconds, POKE_EVERY), 0.5))
        await asyncio.sleep(0)

    monitor = JobsMonitor("outage-trigger", budget, asleep=asleep)
    outcome = asyncio.run(deferred_wait(emulator, budget, monitor, watch, deadline=started + 4 * 600.0))
    assert seen.get("restarted") == 1, "the wait ended before the store came back"
    assert seen["before_restart"] == seen["stopped"], "a Jobs request went out while the store was down"
    assert outcome.succeeded and outcome.job_name == job_name


def test_a_wait_whose_store_stays_down_fails_at_its_own_deadline_not_before(
    stitch_emulator_manual, redis_on_port
):
    emulator = stitch_emulator_manual
    control = emulator.control
    budget = redis_budget(emulator, redis_on_port.url)
    source_id, job_name = one_running_sync(emulator, budget)
    budget.clock()  # the store's clock is known before it goes away
    redis_on_port.stop()
    deadline = control.now() + 300.0

    async def asleep(seconds: float) -> None:
        control.advance(max(min(seconds, POKE_EVERY), 0.5))
        await asyncio.sleep(0)

    monitor = JobsMonitor("outage-deadline", budget, asleep=asleep)
    watch = ExtractionWatch(source_id=source_id, job_name=job_name)
    sent_before = jobs_requests(emulator)
    with pytest.raises(StitchWaitTimeout, match="the deadline passed"):
        asyncio.run(deferred_wait(emulator, budget, monitor, watch, deadline=deadline))
    assert control.now() >= deadline
    assert jobs_requests(emulator) == sent_before


def test_the_start_operators_first_look_goes_on_without_a_request_while_redis_is_down(
    stitch_emulator_manual, redis_on_port, caplog
):
    from airflow_provider_stitch.api.jobs.starts import read_row_before_start

    emulator = stitch_emulator_manual
    budget = redis_budget(emulator, redis_on_port.url)
    client = StitchClient(
        emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=budget
    )
    (source_id,) = make_sources(emulator, client, 1)
    monitor = JobsMonitor("outage-start", budget)
    budget.clock()
    redis_on_port.stop()
    sent_before = jobs_requests(emulator)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_stitch.monitor"):
        before = read_row_before_start(client, monitor, source_id)
    assert not before.known and before.job_name is None
    assert jobs_requests(emulator) == sent_before
    assert any("could not share the watched Jobs rows" in r.getMessage() for r in caplog.records)

    redis_on_port.start()
    emulator.control.advance(POKE_EVERY)
    assert read_row_before_start(client, monitor, source_id).known
    assert jobs_requests(emulator) == sent_before + 1
    client.close()
