"""A writer an hour ahead must not freeze the waiters who share its store (real HTTP to the emulator).

A foreign process whose timeline runs an hour ahead polls the same source through the same SQLite store:
every page it shares and the announcement it leaves are stamped an hour in the future. A normal waiter on
the store must still see its sync finish within one budget window after it ended.
"""

from __future__ import annotations

import sqlite3

from airflow_provider_stitch.api.budget import DEFAULT_JOBS_WINDOW, JobsBudget
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.jobs import EXTRACTIONS, ExtractionWatch, JobsMonitor
from airflow_provider_stitch.api.jobs.monitor import monitor_for_client
from tests.testkit.jobs import completion_times, jobs_env, make_sources, start_jobs

AHEAD = 3600.0
TAP_SECONDS = 120.0
POKE_EVERY = 20.0


def test_pages_and_announcements_stamped_an_hour_ahead_do_not_freeze_other_waiters(
    stitch_emulator_manual, tmp_path, monkeypatch
):
    env = jobs_env(stitch_emulator_manual, tmp_path, monkeypatch)
    emulator = env.emulator
    (source_id,) = make_sources(emulator, env.client, 1)
    job_name = start_jobs(emulator, env.client, [source_id], lambda _: TAP_SECONDS)[source_id]
    watch = ExtractionWatch(source_id=source_id, job_name=job_name)

    ahead_budget = JobsBudget(
        emulator.client_id,
        backend=SQLiteBudgetBackend(env.budget_path),
        clock=lambda: env.now() + AHEAD,
    )
    foreign = StitchClient(
        emulator.token, base_url=emulator.base_url, client_id=emulator.client_id, budget=ahead_budget
    )
    foreign_monitor = JobsMonitor("foreign-ahead", ahead_budget)
    assert foreign_monitor.poll_extraction(foreign, watch) is None  # shares pages stamped an hour ahead
    foreign_monitor.watch(EXTRACTIONS, [watch.identity])  # and an announcement an hour ahead

    with sqlite3.connect(env.budget_path) as conn:
        future = env.now() + AHEAD / 2
        shared = conn.execute(
            "SELECT COUNT(*) FROM budget_snapshots WHERE fetched_at > ?", (future,)
        ).fetchone()
        announced = conn.execute(
            "SELECT COUNT(*) FROM budget_announcements WHERE expires_at > ?", (future,)
        ).fetchone()
    assert shared[0] >= 1 and announced[0] >= 1, "the foreign writer left future-stamped entries"

    monitor = monitor_for_client(env.client)
    started = env.now()
    outcome = None
    while outcome is None and env.now() - started < TAP_SECONDS + 3 * DEFAULT_JOBS_WINDOW:
        env.advance(POKE_EVERY)
        outcome = monitor.poll_extraction(env.client, watch)
    assert outcome is not None, "the waiter froze behind the future-stamped store entries"
    ended = completion_times(emulator)[job_name]
    assert env.now() - ended <= DEFAULT_JOBS_WINDOW + POKE_EVERY
