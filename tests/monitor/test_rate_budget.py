"""N concurrent waits on N sources never exceed 30 Jobs requests in any 600 s, and all of them finish.

Time is the emulator's manual clock, which the clients' budgets read too: triggers run in one event loop
under virtual time; sensors poke from separate processes while the test moves the clock.
"""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest

from airflow_provider_stitch.api.jobs import monitor_for
from airflow_provider_stitch.emulator.harness import VirtualTime
from benchmarks.rate_budget import run_sensor_worker
from tests.testkit.jobs import (
    CONN_ID,
    connection_uri_env,
    make_sources,
    max_jobs_in_window,
    start_jobs,
)

FAILURE = "Response returned http error code 401"
SENSOR_PROCESSES = 4


def tap_seconds(index: int) -> float:
    """Jobs end spread over about 20 minutes, so waits overlap for many windows."""
    return 30.0 + (index * 97) % 1200


def arrange(env, count):
    sources = make_sources(env.emulator, env.client, count)
    env.emulator.control.arrange(sources[-1], fail={"phase": "tap", "message": FAILURE})
    started = env.now()
    names = start_jobs(env.emulator, env.client, sources, tap_seconds)
    return sources, names, started


@pytest.mark.parametrize("count", [1, 10, 50, 200])
def test_triggers_in_one_event_loop_share_one_budget(env, count):
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger

    sources, names, started = arrange(env, count)
    clock = env.emulator.runtime.clock
    virtual = VirtualTime(clock.now, clock.advance)
    monitor_for(env.emulator.base_url, env.emulator.client_id, env.client.jobs_budget, asleep=virtual.sleep)

    async def wait(source_id):
        trigger = StitchExtractionTrigger(
            CONN_ID, source_id, job_name=names[source_id], after=started, deadline=started + 6 * 3600
        )
        return [event async for event in trigger.run()]

    async def main():
        tasks = [asyncio.create_task(wait(source_id)) for source_id in sources]
        await virtual.drive(tasks)
        return [task.result() for task in tasks]

    events = asyncio.run(main())
    assert all(len(fired) == 1 for fired in events)
    statuses = {fired[0].payload["source_id"]: fired[0].payload for fired in events}
    failed = statuses.pop(sources[-1])
    assert failed["status"] == "failed"
    assert failed["message"] == f"the tap phase exited with status 1: {FAILURE}"
    assert {payload["status"] for payload in statuses.values()} <= {"success"}
    assert len(statuses) == count - 1
    assert max_jobs_in_window(env.emulator) <= 30


@pytest.fixture(scope="module")
def sensor_pool():
    """Worker processes, and one lock each that a worker holds while it pokes (the clock moves only between)."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        locks = [manager.Lock() for _ in range(SENSOR_PROCESSES)]
        pool = context.Pool(SENSOR_PROCESSES)
        yield pool, locks
        pool.terminate()
        pool.join()


def advance_between_pokes(clock, locks, seconds):
    """Move the emulator clock while no worker is poking, so a request arrives at the time its budget
    token was stamped (with the clock racing ahead mid-request, the emulator would count it later)."""
    for lock in locks:
        lock.acquire()
    try:
        clock.advance(seconds)
    finally:
        for lock in locks:
            lock.release()


@pytest.mark.parametrize("count", [1, 10, 50, 200])
def test_sensors_in_separate_processes_share_one_budget(env, sensor_pool, count):
    pool, locks = sensor_pool
    sources, names, started = arrange(env, count)
    waits = [(source_id, names[source_id], started) for source_id in sources]
    tasks = [
        {
            "base_url": env.emulator.base_url,
            "conn_id": CONN_ID,
            "conn_env": connection_uri_env(env.emulator, env.budget_path),
            "waits": waits[index::SENSOR_PROCESSES],
            "poke_interval": 120.0,
            "real_timeout": 150.0,
            "lock": locks[index],
        }
        for index in range(min(SENSOR_PROCESSES, count))
    ]
    pending = pool.map_async(run_sensor_worker, tasks)
    while not pending.ready():
        advance_between_pokes(env.emulator.runtime.clock, locks, 10.0)
        pending.wait(0.003)
    results = {source_id: outcome for part in pending.get() for source_id, outcome in part.items()}
    assert len(results) == count
    status, message = results.pop(sources[-1])
    assert status == "failed"
    assert message.endswith(f"failed: the tap phase exited with status 1: {FAILURE}")
    assert {outcome[0] for outcome in results.values()} <= {"success"}
    assert max_jobs_in_window(env.emulator) <= 30
