"""The fair page schedule against the emulator: a page trace taken from the pages actually fetched.

Every source first gets one finished sync, so the extraction list already spans several pages when the
waits start; then each source runs a second sync ending at its own time. The trace is recorded around the
page fetch (what was asked and which rows came back), and "pending" is decided from the emulator's ground
truth (a page holds a pending wait while one of its rows' triggers has not fired), so the check does not
lean on the monitor's own bookkeeping. Time is virtual on the emulator's manual clock.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from dataclasses import dataclass, field

import pytest

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_LIMIT, DEFAULT_JOBS_WINDOW
from airflow_provider_stitch.api.jobs import monitor as monitor_module
from airflow_provider_stitch.api.jobs import monitor_for
from airflow_provider_stitch.emulator.harness import VirtualTime
from tests.testkit.jobs import (
    CONN_ID,
    completion_times,
    make_sources,
    max_jobs_in_window,
    start_jobs,
)

INTERVAL = DEFAULT_JOBS_WINDOW / DEFAULT_JOBS_LIMIT


@dataclass
class PageTrace:
    """Pages fetched: (time, page, source ids on it), in order."""

    clock: object
    reads: list[tuple[float, int, tuple[int, ...]]] = field(default_factory=list)

    def wrap(self, fetch):
        async def recorded(client, kind, page):
            rows, has_next = await fetch(client, kind, page)
            ids = tuple(int(row["source_id"]) for row in rows) if kind.name == "extractions" else ()
            self.reads.append((self.clock(), page, ids))
            return rows, has_next

        return recorded


def arrange(env, count, tap_seconds):
    """``count`` sources that each finished one sync, then a second sync of each ending at its own time."""
    sources = make_sources(env.emulator, env.client, count)
    start_jobs(env.emulator, env.client, sources, lambda index: 1.0)
    env.advance(30.0)
    started = env.now()
    names = start_jobs(env.emulator, env.client, sources, tap_seconds)
    return sources, names, started


def run_waits(env, monkeypatch, waits, *, late_start=None):
    """Run one StitchExtractionTrigger per (source_id, job_name, after, deadline) in one loop; times fired.

    :param late_start: (delay, callable) — after ``delay`` virtual seconds, ``callable(monitor)`` returns
        one more wait to run.
    """
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger

    clock = env.emulator.runtime.clock
    virtual = VirtualTime(clock.now, clock.advance)
    trace = PageTrace(clock.now)
    monkeypatch.setattr(monitor_module, "fetch_page_async", trace.wrap(monitor_module.fetch_page_async))
    monitor = monitor_for(
        env.emulator.base_url, env.emulator.client_id, env.client.jobs_budget, asleep=virtual.sleep
    )
    fired: dict[int, tuple[float, dict]] = {}

    async def wait(source_id, job_name, after, deadline, delay=0.0):
        if delay:
            await virtual.sleep(delay)
        trigger = StitchExtractionTrigger(
            CONN_ID, source_id, job_name=job_name, after=after, deadline=deadline
        )
        async for event in trigger.run():
            fired[source_id] = (virtual.now(), event.payload)

    async def late(delay, make):
        await virtual.sleep(delay)
        await wait(*make(monitor))

    async def main():
        tasks = [asyncio.create_task(wait(*spec)) for spec in waits]
        if late_start is not None:
            tasks.append(asyncio.create_task(late(*late_start)))
        await virtual.drive(tasks, real_timeout=300)
        for task in tasks:
            task.result()

    asyncio.run(main())
    return fired, trace, monitor


def pending_pages_at(trace, fired, moment):
    """Pages (by their latest content before ``moment``) holding a source whose trigger had not fired."""
    latest: dict[int, tuple[int, ...]] = {}
    for when, page, ids in trace.reads:
        if when >= moment:
            break
        latest[page] = ids
    return {page for page, ids in latest.items() if any(fired[i][0] > moment for i in ids)}


def test_every_pending_page_comes_round_fairly_and_finished_pages_drop_out(env, monkeypatch):
    count = 350  # 4 pages of 100
    sources, names, started = arrange(env, count, lambda index: 60.0 + (index * 37) % 1500)
    waits = [(s, names[s], started, started + 6 * 3600) for s in sources]
    fired, trace, _ = run_waits(env, monkeypatch, waits)

    assert len(fired) == count
    assert {payload["status"] for _, payload in fired.values()} == {"success"}
    assert max_jobs_in_window(env.emulator) <= 30

    pages = math.ceil(count / 100)
    bound = pages * INTERVAL
    ended = completion_times(env.emulator)
    delays = [fired[s][0] - ended[names[s]] for s in sources]
    assert max(delays) <= bound + INTERVAL, f"max delay {max(delays):.0f} s over the bound {bound:.0f} s"

    first_cycle_done = next(i for i, read in enumerate(trace.reads) if read[1] == pages) + 1
    for before, after in itertools.pairwise(trace.reads[first_cycle_done - 1 :]):
        if before[1] == after[1]:
            others = pending_pages_at(trace, fired, after[0]) - {after[1]}
            assert not others, f"page {after[1]} read twice in a row at {after[0]} while {others} waited"

    last_read: dict[int, float] = {}
    for when, page, _ in trace.reads[first_cycle_done:]:
        pending = pending_pages_at(trace, fired, when)
        for other in pending - {page}:
            if other in last_read:
                assert when - last_read[other] <= bound + 1.0, (
                    f"page {other} waited {when - last_read[other]:.0f} s"
                )
        last_read[page] = when

    for when, page, ids in trace.reads[first_cycle_done:]:
        if ids and all(fired[i][0] < when for i in ids):
            pytest.fail(f"page {page} was read at {when} after every wait on it had finished")


def test_a_deadline_that_cannot_be_met_says_so_early_with_the_figures(env, monkeypatch):
    count = 300  # 3 pages
    sources, names, started = arrange(env, count, lambda index: 700.0)
    waits = [(s, names[s], started, started + 6 * 3600) for s in sources[:-1]]
    late_source = sources[-1]  # last page; its job ends long after its deadline
    chosen: dict[str, float] = {}

    def make(monitor):
        # 200 s in, every page was read once; the late wait's page is two turns or more away
        now = env.now()
        chosen["at"] = now
        chosen["deadline"] = now + 5.0
        return (late_source, names[late_source], started, chosen["deadline"])

    clock = env.emulator.runtime.clock
    warned: list[tuple[float, str]] = []

    class Stamp(logging.Handler):
        def emit(self, record):
            if "cannot be met" in record.getMessage():
                warned.append((clock.now(), record.getMessage()))

    stamp = Stamp()
    logging.getLogger("airflow_provider_stitch.monitor").addHandler(stamp)
    try:
        fired, _, _ = run_waits(env, monkeypatch, waits, late_start=(200.0, make))
    finally:
        logging.getLogger("airflow_provider_stitch.monitor").removeHandler(stamp)

    when, payload = fired[late_source]
    assert payload["status"] == "timeout"
    assert payload["message"].startswith(f"gave up waiting for the extraction of source {late_source}")
    assert "the deadline passed" in payload["message"]
    assert "3 Jobs page(s) hold pending waits" in payload["message"]
    assert len(warned) == 1
    warned_at, message = warned[0]
    assert f"of the extraction of source {late_source} cannot be met at this pace" in message
    assert "3 Jobs page(s) hold pending waits" in message
    assert "the budget of 30 requests per 10 min 10 s allows one page read every 20.3 s" in message
    assert "each pending page is read every 1 min 1 s" in message
    assert warned_at < chosen["deadline"], "the warning came only after the deadline"
