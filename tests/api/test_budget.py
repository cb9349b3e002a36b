"""The Jobs budget: sliding window, waiting, and a SQLite window shared by processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest

from airflow_provider_stitch.api.budget import (
    BudgetBackend,
    InMemoryBudgetBackend,
    JobsBudget,
    jobs_window_for,
)
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.errors import StitchRateBudgetExhausted
from tests.api.stitch_api_testkit import ManualClock


@pytest.fixture(params=["memory", "sqlite"])
def backend(request, tmp_path) -> BudgetBackend:
    return (
        InMemoryBudgetBackend() if request.param == "memory" else SQLiteBudgetBackend(tmp_path / "b.sqlite")
    )


def test_backends_follow_the_protocol(backend):
    assert isinstance(backend, BudgetBackend)


def test_default_window_holds_tokens_past_stitchs_600_seconds(backend):
    clock = ManualClock()
    budget = JobsBudget(116078, backend=backend, clock=clock, sleep=clock.sleep)
    assert sum(budget.try_acquire() for _ in range(31)) == 30
    clock.now += 600
    assert budget.try_acquire() is False
    assert budget.seconds_until_available() == pytest.approx(10)
    clock.now += 10
    assert budget.try_acquire() is True


def test_emulator_window_is_its_600_seconds_in_real_time_plus_the_margin():
    assert jobs_window_for() == 610.0
    assert jobs_window_for(20) == 40.0
    assert jobs_window_for(600) == 11.0
    with pytest.raises(ValueError, match="at least 1"):
        jobs_window_for(0.5)


def test_window_slides(backend):
    clock = ManualClock()
    budget = JobsBudget(116078, limit=3, window=600, backend=backend, clock=clock, sleep=clock.sleep)
    assert [budget.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert budget.used() == 3
    clock.now += 100
    assert budget.seconds_until_available() == pytest.approx(500)
    clock.now += 500
    assert budget.seconds_until_available() == 0.0
    assert budget.used() == 0
    assert budget.try_acquire() is True


def test_acquire_raises_without_sending_when_no_wait_allowed(backend):
    clock = ManualClock()
    budget = JobsBudget(7, limit=1, window=60, backend=backend, clock=clock, sleep=clock.sleep)
    budget.acquire()
    with pytest.raises(StitchRateBudgetExhausted) as caught:
        budget.acquire(max_wait=10)
    assert caught.value.client_id == 7 and caught.value.wait == pytest.approx(60)
    assert clock.slept == []
    assert budget.used() == 1


def test_acquire_waits_when_allowed(backend):
    clock = ManualClock()
    budget = JobsBudget(7, limit=1, window=60, backend=backend, clock=clock, sleep=clock.sleep)
    budget.acquire()
    clock.now += 20
    budget.acquire(max_wait=45)
    assert clock.slept == [pytest.approx(40)]
    assert budget.used() == 1


def test_async_acquire_waits_with_asyncio_sleep(monkeypatch):
    clock = ManualClock()
    budget = JobsBudget(7, limit=1, window=30, backend=InMemoryBudgetBackend(), clock=clock)
    waited: list[float] = []
    real_sleep = asyncio.sleep
    own_loop: list[asyncio.AbstractEventLoop] = []

    async def fake_sleep(seconds: float, result: object = None) -> object:
        if asyncio.get_running_loop() not in own_loop:  # another test's leftover loop in a thread
            return await real_sleep(seconds, result)
        waited.append(seconds)
        clock.now += seconds
        return result

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)

    async def run() -> None:
        own_loop.append(asyncio.get_running_loop())
        await budget.aacquire()
        await budget.aacquire(max_wait=30)
        with pytest.raises(StitchRateBudgetExhausted):
            await budget.aacquire()

    asyncio.run(run())
    assert waited == [pytest.approx(30)]


def test_budgets_are_per_client_id():
    backend = InMemoryBudgetBackend()
    first = JobsBudget(1, limit=1, backend=backend)
    second = JobsBudget(2, limit=1, backend=backend)
    assert first.try_acquire() and second.try_acquire()
    assert not first.try_acquire()


def test_limits_are_checked():
    with pytest.raises(ValueError, match="cannot exceed"):
        JobsBudget(1, limit=31)
    with pytest.raises(ValueError, match="at least 1"):
        JobsBudget(1, limit=0)


def test_snapshots(backend):
    assert backend.get_snapshot("k") is None
    backend.put_snapshot("k", '{"a": 1}', 10.0)
    backend.put_snapshot("k", '{"a": 2}', 20.0)
    assert backend.get_snapshot("k") == ('{"a": 2}', 20.0)


def _take_many(path: str, attempts: int, results) -> None:
    budget = JobsBudget(116078, limit=10, window=600, backend=SQLiteBudgetBackend(path))
    taken = 0
    for _ in range(attempts):
        if budget.try_acquire():
            taken += 1
    results.put(taken)


def test_two_processes_sharing_sqlite_never_exceed_the_budget(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    SQLiteBudgetBackend(path)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_take_many, args=(path, 25, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    counts = [results.get(timeout=5) for _ in workers]
    assert sum(counts) == 10
    assert JobsBudget(116078, limit=10, backend=SQLiteBudgetBackend(path), clock=time.time).used() == 10
