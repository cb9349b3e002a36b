"""The shared budget keeps one timeline whatever the writers' wall clocks do (real HTTP, real processes).

Each worker is its own process whose wall clock steps (or runs behind) while it sends Jobs requests
through a SQLite or Redis budget store to a sped-up emulator child process. The emulator counts the
busiest Jobs window by its own routes and clock: it must never see more than 30, and no worker may wait
for a token much longer than one window.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from airflow_provider_stitch.emulator.harness import EmulatorProcess
from tests.budget.fast_emulator import FAST_SPEED

WORKER = Path(__file__).with_name("budget_clock_worker.py")
#: The emulator's 600-second window in real seconds, plus a half-second margin for latency.
EMULATOR_WINDOW = 600.0 / FAST_SPEED
BUDGET_WINDOW = EMULATOR_WINDOW + 0.5
#: Scheduling slack on a loaded two-core machine, on top of one window.
SLACK = 1.0
RUN_SECONDS = 4.5


def store_location(kind: str, tmp_path: Path, redis_url: str | None) -> str:
    return redis_url if kind == "redis" and redis_url else str(tmp_path / "budget.sqlite")


def run_workers(emulator: EmulatorProcess, kind: str, location: str, *workers: dict) -> list[dict]:
    """Start the workers together; return each one's report (request times, errors)."""
    start_at = time.monotonic() + 3.0
    prefix = f"clock-{uuid.uuid4().hex}:"
    processes = []
    for worker in workers:
        settings = {
            "base_url": emulator.base_url,
            "token": emulator.token,
            "client_id": emulator.client_id,
            "backend": kind,
            "location": location,
            "prefix": prefix,
            "window": BUDGET_WINDOW,
            "seconds": RUN_SECONDS,
            "start_at": start_at,
            **worker,
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), json.dumps(settings)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def busiest_window(emulator: EmulatorProcess) -> int:
    control = emulator.control()
    try:
        stats = control.stats(include_log=False)
    finally:
        control.close()
    return int(stats["by_client"][str(emulator.client_id)]["max_jobs_in_window"])


def longest_wait(report: dict) -> float:
    """The longest gap between requests, counted from when the worker began sending (not its start-up)."""
    times = [report["began"], *report["sent"]]
    return max(later - earlier for earlier, later in itertools.pairwise(times))


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path) -> tuple[str, str]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return request.param, store_location(request.param, tmp_path, redis_url)


@pytest.mark.parametrize("step", [611.0, -3600.0], ids=["forward-611s", "backward-1h"])
def test_a_wall_clock_step_neither_frees_tokens_early_nor_freezes_the_window(emulator, store, step):
    kind, location = store
    (report,) = run_workers(emulator, kind, location, {"step_after": 30, "step": step})
    assert report["errors"] == []
    assert len(report["sent"]) >= 60, "the budget kept serving after the step"
    assert busiest_window(emulator) <= 30
    assert longest_wait(report) <= BUDGET_WINDOW + SLACK


def test_two_processes_on_one_store_with_one_clock_700_seconds_behind(emulator, store):
    kind, location = store
    on_time, behind = run_workers(emulator, kind, location, {}, {"offset": -700.0})
    assert on_time["errors"] == [] and behind["errors"] == []
    assert busiest_window(emulator) <= 30
    assert len(on_time["sent"]) + len(behind["sent"]) >= 60
    assert len(on_time["sent"]) > 0 and len(behind["sent"]) > 0
    assert max(longest_wait(on_time), longest_wait(behind)) <= BUDGET_WINDOW + SLACK
