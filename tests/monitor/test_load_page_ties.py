"""Load waits whose rows share one stream name across pages of the loads list (ordered by stream name).

Every source's ``accounts`` stream is watched, so the watched rows all carry the same sort key and run over
a page boundary. Time is virtual on the emulator's manual clock; the Jobs window is counted by the emulator.
"""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_stitch.api.jobs import KINDS, LOADS, ListSnapshot, Plan, load_identity, monitor_for
from airflow_provider_stitch.emulator.harness import VirtualTime
from tests.testkit.jobs import CONN_ID, make_sources, max_jobs_in_window, start_jobs

LOAD = KINDS[LOADS]


def accounts_rows(numbers):
    return [{"source_name": f"shop_{n:03d}", "stream_name": "accounts"} for n in numbers]


def test_a_row_tied_with_the_last_key_of_a_full_page_is_looked_for_on_the_next_page_too():
    snapshot = ListSnapshot()
    beyond = load_identity("shop_150", "accounts")
    snapshot.absorb(LOAD, 1, accounts_rows(range(100)), True, 10.0, {beyond})
    assert snapshot.candidate_pages(LOAD, beyond) == (1, 2)
    assert [
        (turn.page, turn.waiting)
        for turn in Plan.of({LOADS: snapshot, "extractions": ListSnapshot()}, {LOADS: [beyond]}).turns
    ] == [(2, 1), (1, 1)]
    snapshot.absorb(LOAD, 2, accounts_rows(range(100, 200)), True, 30.0, {beyond})
    assert snapshot.pages[beyond] == 2
    further = load_identity("shop_250", "accounts")
    assert snapshot.candidate_pages(LOAD, further) == (1, 2, 3)
    snapshot.absorb(LOAD, 2, accounts_rows(range(100, 200)), False, 50.0, {further})
    assert snapshot.candidate_pages(LOAD, further) == (1, 2)


@pytest.mark.parametrize("count", [150, 200, 250])
def test_load_waits_on_rows_tied_across_pages_all_finish_within_the_budget(env, count):
    from airflow_provider_stitch.triggers.replication import StitchLoadTrigger

    # 3 streams a source, so the "accounts" rows (one sort key) fill pages 1 to ceil(count / 100)
    sources = make_sources(env.emulator, env.client, count)
    start_jobs(env.emulator, env.client, sources, lambda index: 1.0)
    env.advance(30.0)
    started = env.now()
    start_jobs(env.emulator, env.client, sources, lambda index: 60.0 + (index * 37) % 600)

    clock = env.emulator.runtime.clock
    virtual = VirtualTime(clock.now, clock.advance)
    monitor_for(env.emulator.base_url, env.emulator.client_id, env.client.jobs_budget, asleep=virtual.sleep)
    fired: dict[int, dict] = {}

    async def wait(source_id: int) -> None:
        trigger = StitchLoadTrigger(
            CONN_ID, source_id, streams=["accounts"], loads_after=started, deadline=started + 3 * 3600
        )
        async for event in trigger.run():
            fired[source_id] = event.payload

    async def main() -> None:
        tasks = [asyncio.create_task(wait(s)) for s in sources]
        await virtual.drive(tasks, real_timeout=300)
        for task in tasks:
            task.result()

    asyncio.run(main())

    statuses = {s: fired[s]["status"] for s in sources}
    late = sorted(s for s, status in statuses.items() if status != "success")
    assert not late, f"{len(late)} load waits did not finish: {[fired[s]['message'] for s in late[:2]]}"
    assert max_jobs_in_window(env.emulator) <= 30
