"""Rate safety under faults: with every retry paid from the Jobs budget, waiters polling through the
JobsMonitor keep the emulator's busiest 600-second window at or under 30 Jobs requests, whatever fails.

The emulator runs a manual clock in ``block`` mode (it would refuse request 31 of a window with a 429 and
count it as blocked); the budget reads the same clock, and the loop advances it in fixed steps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fault_kinds import (
    CLIENT_TIMEOUT,
    FAULT_KINDS,
    JOBS_PATHS,
    burst_faults,
    let_delayed_answers_finish,
    persistent_faults,
    random_faults,
    zero_wait,
)

from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.monitor import ExtractionWatch, JobsMonitor, LoadWatch, account_key

JOBS_LIMIT = 30
WINDOW = 600.0
#: Emulator seconds between two rounds of polls.
STEP = 10.0
#: How long (emulator seconds) the waiters may take in the runs that should finish.
HORIZON = 3 * 3600.0
TAP_SECONDS = (120.0, 400.0, 900.0, 1500.0, 2400.0)

DESTINATION = {
    "host": "warehouse.example.com",
    "port": 5432,
    "username": "loader",
    "password": "rate-test-password",
    "database": "analytics",
    "encryption_type": "none",
    "ssl": "false",
}
FRESHDESK = {"api_key": "rate-test-api-key", "domain": "acme", "start_date": "2024-01-01T00:00:00Z"}


@dataclass
class WaitRun:
    """What one run of waiters saw."""

    extractions: dict[int, bool] = field(default_factory=dict)
    loads: dict[int, bool] = field(default_factory=dict)
    emulated_seconds: float = 0.0


@pytest.fixture
def account(stitch_emulator_manual: Any) -> Iterator[tuple[Any, StitchClient]]:
    """The manual-clock emulator in block mode with a destination, and a client with a private budget."""
    emulator = stitch_emulator_manual
    emulator.control.configure(run_schedules=False)
    emulator.control.set_jobs_limit_mode("block", limit=JOBS_LIMIT, window_seconds=WINDOW)
    budget = JobsBudget(emulator.client_id, backend=InMemoryBudgetBackend(), clock=emulator.runtime.clock.now)
    client = StitchClient(
        emulator.token,
        base_url=emulator.base_url,
        client_id=emulator.client_id,
        budget=budget,
        timeout=CLIENT_TIMEOUT,
        max_attempts=4,
        retry_wait=zero_wait,
    )
    client.create_destination("postgres", DESTINATION, "warehouse")
    yield emulator, client
    client.close()
    let_delayed_answers_finish(emulator)


def start_jobs(emulator: Any, client: StitchClient) -> dict[int, ExtractionWatch]:
    """One source per tap length, each with a sync started now."""
    watches: dict[int, ExtractionWatch] = {}
    for index, tap in enumerate(TAP_SECONDS):
        source = client.create_source("platform.freshdesk", f"Shop {index}", FRESHDESK)
        emulator.control.arrange(source.id, durations={"discovery": 5.0, "tap": tap, "target": 5.0})
        job = client.start_sync(source.id)
        watches[source.id] = ExtractionWatch(source.id, job.job_name, after=emulator.runtime.clock.now())
    return watches


def wait_for_everything(
    emulator: Any, client: StitchClient, watches: dict[int, ExtractionWatch], horizon: float
) -> WaitRun:
    """Poll each extraction, then its loads, every STEP emulator seconds until all are answered or ``horizon``."""
    monitor = JobsMonitor(
        account_key(client.base_url, client.client_id), client.jobs_budget, rng=random.Random(3)
    )
    run = WaitRun()
    load_watches: dict[int, LoadWatch] = {}
    started = emulator.runtime.clock.now()
    while len(run.loads) < len(watches) and emulator.runtime.clock.now() - started < horizon:
        for source_id, watch in watches.items():
            if source_id in run.extractions:
                continue
            outcome = monitor.poll_extraction(client, watch)
            if outcome is not None:
                run.extractions[source_id] = outcome.succeeded
                load_watches[source_id] = monitor.load_watch(client, source_id, None, outcome.completion_time)
        for source_id, load_watch in load_watches.items():
            if source_id in run.loads:
                continue
            loaded = monitor.poll_loads(client, load_watch)
            if loaded is not None:
                run.loads[source_id] = loaded.succeeded
        emulator.control.advance(STEP)
    run.emulated_seconds = emulator.runtime.clock.now() - started
    return run


def jobs_figures(emulator: Any) -> tuple[int, int, int]:
    """(Jobs requests, busiest window, requests the emulator's limit blocked)."""
    stats = emulator.control.stats(include_log=False)
    counters = stats["by_client"].get(str(emulator.client_id), {})
    return int(stats["requests"]["jobs"]), int(stats["max_jobs_in_window"]), int(counters.get("blocked", 0))


def fault_hits(emulator: Any) -> int:
    return sum(int(rule["hits"]) for rule in emulator.control.faults())


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_waiters_finish_under_random_faults_within_the_jobs_limit(
    account: tuple[Any, Any], kind: str
) -> None:
    emulator, client = account
    watches = start_jobs(emulator, client)
    emulator.control.set_faults(random_faults(kind, JOBS_PATHS))

    run = wait_for_everything(emulator, client, watches, HORIZON)

    assert run.extractions == dict.fromkeys(watches, True)
    assert run.loads == dict.fromkeys(watches, True)
    jobs, busiest, blocked = jobs_figures(emulator)
    assert fault_hits(emulator) >= 1
    assert busiest <= JOBS_LIMIT
    assert blocked == 0
    assert jobs > JOBS_LIMIT  # the run spanned several windows, so the bound was actually exercised


@pytest.mark.parametrize("kind", ["503", "429", "drop", "malformed"])
def test_waiters_finish_after_fault_bursts_within_the_jobs_limit(account: tuple[Any, Any], kind: str) -> None:
    emulator, client = account
    watches = start_jobs(emulator, client)
    emulator.control.set_faults(burst_faults(kind, JOBS_PATHS, length=12))

    run = wait_for_everything(emulator, client, watches, HORIZON)

    assert run.loads == dict.fromkeys(watches, True)
    jobs, busiest, blocked = jobs_figures(emulator)
    assert fault_hits(emulator) == 12
    assert busiest <= JOBS_LIMIT
    assert blocked == 0


@pytest.mark.parametrize("kind", ["500", "429", "malformed"])
def test_persistent_faults_never_push_retries_past_the_jobs_limit(
    account: tuple[Any, Any], kind: str
) -> None:
    """Every Jobs request fails for two hours: each refresh retries, yet no window exceeds the limit."""
    emulator, client = account
    watches = start_jobs(emulator, client)
    emulator.control.set_faults(persistent_faults(kind, JOBS_PATHS))

    run = wait_for_everything(emulator, client, watches, 2 * 3600.0)

    assert run.extractions == {}
    jobs, busiest, blocked = jobs_figures(emulator)
    assert busiest == JOBS_LIMIT  # retries used the whole allowance, and not one request more
    assert blocked == 0
    assert jobs == fault_hits(emulator)
    assert jobs <= JOBS_LIMIT * (run.emulated_seconds / WINDOW + 1)
