"""A poking load sensor keeps its rows announced between pokes, so other processes on the store plan for them.

Another process is stood in for by a second waiter registry (its own owner) on the same SQLite store and
budget key; the emulator runs on a manual clock over loopback.
"""

from __future__ import annotations

from airflow_provider_stitch.api.jobs import LOADS, load_identity
from airflow_provider_stitch.api.jobs.watchers import WaiterRegistry
from airflow_provider_stitch.sensors import StitchLoadSensor
from tests.testkit.jobs import CONN_ID, make_sources, start_jobs


def test_a_pending_load_poke_stays_announced_and_a_finished_one_withdraws(env):
    (source_id,) = make_sources(env.emulator, env.client, 1)
    start_jobs(env.emulator, env.client, [source_id], lambda _: 1.0)
    env.advance(30)
    started = env.now()
    start_jobs(env.emulator, env.client, [source_id], lambda _: 120.0)
    waiting = StitchLoadSensor(
        task_id="loads", stitch_conn_id=CONN_ID, source_id=source_id, streams=["accounts"], after=started
    )
    other_process = WaiterRegistry(lambda: env.client.jobs_budget)
    row = load_identity(env.client.get_source(source_id).name, "accounts")

    assert waiting.poke({}) is False
    assert row in other_process.watched(LOADS)
    env.advance(60)
    assert waiting.poke({}) is False
    assert row in other_process.watched(LOADS)

    answer = False
    for _ in range(6):
        env.advance(30)
        answer = waiting.poke({})
        if answer:
            break
    assert answer and answer.xcom_value["succeeded"] is True
    assert row not in other_process.watched(LOADS)
