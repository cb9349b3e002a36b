"""The waiter registry (O(1) rows, no stale announcements) and the spent-budget log's bounded rate."""

from __future__ import annotations

import logging
import sqlite3
import time

import pytest

from airflow_provider_stitch.api import budget as budget_module
from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.jobs import EXTRACTIONS, LOADS
from airflow_provider_stitch.api.jobs.watchers import POKE_TTL, WATCHER_TTL, WaiterRegistry


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["memory", "sqlite"])
def shared(request, tmp_path):
    """A budget on a virtual clock and two registries (two processes) sharing its store."""
    clock = Clock()
    store = (
        InMemoryBudgetBackend() if request.param == "memory" else SQLiteBudgetBackend(tmp_path / "b.sqlite")
    )
    budget = JobsBudget(1, backend=store, clock=clock)
    return clock, budget, WaiterRegistry(lambda: budget), WaiterRegistry(lambda: budget)


def test_each_process_announces_a_row_once_and_withdraws_it_with_its_last_waiter(shared):
    _, budget, first, second = shared
    first.watch(EXTRACTIONS, ["5"])
    first.watch(EXTRACTIONS, ["5"])
    second.watch(EXTRACTIONS, ["5"])
    assert len(budget.backend.announced(f"{budget.key}:watchers:{EXTRACTIONS}", budget.clock())) == 2
    first.unwatch(EXTRACTIONS, ["5"])
    assert second.watched(EXTRACTIONS) == {"5"} and first.active_waiters() == 1
    first.unwatch(EXTRACTIONS, ["5"])
    second.unwatch(EXTRACTIONS, ["5"])
    assert first.watched(EXTRACTIONS) == set() and second.watched(EXTRACTIONS) == set()


def test_a_finished_poke_leaves_nothing_and_a_pending_one_lapses_after_the_poke_ttl(shared):
    clock, _, poker, other = shared
    poker.watch(LOADS, ["a", "b"])
    poker.poked(LOADS, ["a", "b"], finished=True)
    assert other.watched(LOADS) == set()
    poker.watch(EXTRACTIONS, ["9"])
    poker.poked(EXTRACTIONS, ["9"], finished=False)
    assert other.watched(EXTRACTIONS) == {"9"}
    clock.t += POKE_TTL + 1
    assert other.watched(EXTRACTIONS) == set()


def test_an_abandoned_wait_expires_and_a_live_one_is_renewed(shared, monkeypatch):
    clock, _, live, other = shared
    abandoned = WaiterRegistry(live._budget_of)
    abandoned.watch(EXTRACTIONS, ["1"])  # its process dies without unwatching
    live.watch(EXTRACTIONS, ["2"])
    clock.t += WATCHER_TTL - 100
    real_monotonic = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + WATCHER_TTL)
    assert live.watched(EXTRACTIONS) == {"1", "2"}  # renews "2"
    clock.t += 200
    assert other.watched(EXTRACTIONS) == {"2"}


def test_registrations_are_rows_not_a_rewritten_table(tmp_path):
    path = tmp_path / "b.sqlite"
    budget = JobsBudget(1, backend=SQLiteBudgetBackend(path))
    registry = WaiterRegistry(lambda: budget)
    for i in range(300):
        registry.watch(EXTRACTIONS, [str(i)])
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM budget_announcements").fetchone()[0] == 300
        assert conn.execute("SELECT COUNT(*) FROM budget_snapshots").fetchone()[0] == 0
    for i in range(300):
        registry.unwatch(EXTRACTIONS, [str(i)])
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM budget_announcements").fetchone()[0] == 0


def test_a_spent_budget_is_logged_once_a_minute_not_on_every_try(caplog, monkeypatch):
    spent_log = budget_module._SpentBudgetLog(interval=60.0)
    monkeypatch.setattr(budget_module, "SPENT_BUDGET_LOG", spent_log)
    clock = Clock()
    budget = JobsBudget(42, limit=1, window=610.0, backend=InMemoryBudgetBackend(), clock=clock)
    real_monotonic = time.monotonic
    offset = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + offset[0])
    caplog.set_level(logging.INFO, logger="airflow_provider_stitch.budget")
    assert budget.try_acquire()
    for _ in range(12 * 60 * 2):  # twelve minutes of tries twice a second; a token frees after 610 s
        offset[0] += 0.5
        clock.t += 0.5
        budget.try_acquire()
    spent = [r.getMessage() for r in caplog.records if "is spent" in r.getMessage()]
    assert 11 <= len(spent) <= 14  # about one a minute: neither two a second nor silence for minutes
    assert spent[0] == (
        "Jobs budget of Stitch client 42 is spent (1 Jobs requests per 10 min 10 s, all taken); "
        "the next token frees at 2027-01-15T08:10:10Z"
    )
    assert not any("1800000" in message for message in spent)
    recovered = [r.getMessage() for r in caplog.records if "has a token again" in r.getMessage()]
    assert recovered == ["Jobs budget of Stitch client 42 has a token again; requests go on"]
