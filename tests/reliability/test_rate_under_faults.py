"""Rate safety under faults: with every retry paid from the Jobs budget, waiters polling through the
JobsMonitor keep the emulator's busiest 600-second window at or under 30 Jobs requests, whatever fails.

The emulator runs a manual clock in ``block`` mode (it would refuse request 31 of a window with a 429 and
count it as blocked); the budget reads the same clock, and the loop advances it in fixed steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_stitch.api.client import StitchClient
from tests.reliability.fault_kinds import (
    FAULT_KINDS,
    JOBS_PATHS,
    burst_faults,
    let_delayed_answers_finish,
    persistent_faults,
    random_faults,
)
from tests.reliability.rate_scenario import (
    HORIZON,
    JOBS_LIMIT,
    WINDOW,
    fault_hits,
    jobs_figures,
    start_jobs,
    wait_for_everything,
    waiting_client,
)


@pytest.fixture
def account(stitch_emulator_manual: Any) -> Iterator[tuple[Any, StitchClient]]:
    """The manual-clock emulator in block mode with a destination, and a client with a private budget."""
    emulator = stitch_emulator_manual
    client = waiting_client(emulator)
    yield emulator, client
    client.close()
    let_delayed_answers_finish(emulator)


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
    """Every Jobs request fails for an hour: each refresh retries, yet no window exceeds the limit."""
    emulator, client = account
    watches = start_jobs(emulator, client)
    emulator.control.set_faults(persistent_faults(kind, JOBS_PATHS))

    run = wait_for_everything(emulator, client, watches, 3600.0)

    assert run.extractions == {}
    jobs, busiest, blocked = jobs_figures(emulator)
    assert busiest == JOBS_LIMIT  # retries used the whole allowance, and not one request more
    assert blocked == 0
    assert jobs == fault_hits(emulator)
    assert jobs <= JOBS_LIMIT * (run.emulated_seconds / WINDOW + 1)
