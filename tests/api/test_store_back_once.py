"""A budget store that comes back is announced once, and only by a waiter that asked it (issue 17)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.errors import StitchBudgetStoreUnreachable
from airflow_provider_stitch.api.jobs.decisions import ExtractionWatch
from airflow_provider_stitch.api.jobs.monitor import JobsMonitor

BACK = "the budget store answers again"
DOWN = "no Jobs request while the budget store does not answer"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


class FlakyStore(InMemoryBudgetBackend):
    """An in-memory store that refuses every request (its clock aside) while ``down``."""

    location = "redis://store.example:6379/0"

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.asked = 0

    def _ask(self) -> None:
        self.asked += 1
        if self.down:
            raise StitchBudgetStoreUnreachable(self.location, "connection refused")

    def take(self, *args, **kwargs):
        self._ask()
        return super().take(*args, **kwargs)

    def get_snapshot(self, key):
        self._ask()
        return super().get_snapshot(key)


@pytest.fixture
def outage():
    clock, store = Clock(), FlakyStore()
    monitor = JobsMonitor("https://api.stitchdata.com#1", JobsBudget(1, backend=store, clock=clock))
    return clock, store, monitor


def _round(monitor: JobsMonitor, waiters: int) -> None:
    """``waiters`` waiters of one event loop look at once (they queue on the loop's turn lock)."""

    async def look() -> None:
        watch = ExtractionWatch(source_id=7, job_name=None, after=None)
        await asyncio.gather(*(monitor.acheck_extraction(object(), watch) for _ in range(waiters)))

    asyncio.run(look())


def _messages(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_an_outage_seen_by_many_waiters_is_announced_over_once(outage, caplog):
    clock, store, monitor = outage
    caplog.set_level(logging.INFO, logger="airflow_provider_stitch.monitor")
    store.down = True
    for _ in range(10):  # 10 tries of the store, one every quarter turn: about 50 s of outage
        _round(monitor, 40)
        clock.t += monitor.interval / 4 + 0.1
    assert store.asked >= 10
    assert _messages(caplog, BACK) == []
    assert len(_messages(caplog, DOWN)) == 1
    store.down = False
    _round(monitor, 40)
    clock.t += monitor.interval
    _round(monitor, 40)
    back = _messages(caplog, BACK)
    assert len(back) == 1, back
    assert back[0].startswith("JobsMonitor('https://api.stitchdata.com#1'): the budget store answers again")
    assert monitor.store_outage() is None


def test_waiters_that_did_not_ask_the_store_do_not_end_the_outage(outage):
    clock, store, monitor = outage
    store.down = True
    _round(monitor, 20)
    asked = store.asked
    assert asked >= 1
    outage_text = monitor.store_outage()
    assert outage_text is not None and "redis://store.example:6379/0" in outage_text
    _round(monitor, 20)  # the retry is a quarter turn away: nobody asks, and the outage stands
    assert store.asked == asked
    assert monitor.store_outage() == outage_text
