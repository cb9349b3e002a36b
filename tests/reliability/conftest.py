"""Fixtures of the reliability tests: a fast real-clock emulator and Airflow tasks wired to it with short
timeouts, no retry pauses and a per-test Jobs budget on the emulator's clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_kinds import CLIENT_TIMEOUT, let_delayed_answers_finish, zero_wait

#: Emulator seconds per real second for the task flows (a 10 s job ends in 0.2 s).
FLOW_SPEED = 50.0


def scaled_sleep(seconds: float) -> None:
    """Sleep emulator seconds on the fast emulator."""
    time.sleep(max(seconds, 0.0) / FLOW_SPEED)


@pytest.fixture(scope="session")
def flow_emulator_server() -> Iterator[Any]:
    """A fast real-clock emulator without scheduled runs, shared by the session."""
    from airflow_provider_stitch.emulator import StitchEmulator

    with StitchEmulator(speed=FLOW_SPEED, run_schedules=False) as emulator:
        yield emulator


@pytest.fixture
def flow_env(flow_emulator_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The fast emulator, reset, with ``stitch_default`` pointing at it for in-process task runs.

    Hooks get a short request timeout, clients resend without pausing, the Jobs budget (a SQLite file of
    this test) reads the emulator's clock, and worker waits sleep in emulator seconds.
    """
    from airflow_provider_stitch.api import base as client_base
    from airflow_provider_stitch.api.budget import JobsBudget
    from airflow_provider_stitch.api.monitor import forget_monitors
    from airflow_provider_stitch.hooks.stitch import StitchHook
    from airflow_provider_stitch.operators.replication import StitchStartReplicationOperator

    emulator = flow_emulator_server
    emulator.control.reset()
    connection = {
        "conn_type": "stitch",
        "host": emulator.base_url,
        "password": emulator.token,
        "extra": {
            "stitch_client_id": emulator.client_id,
            "budget_backend": "sqlite",
            "budget_location": str(tmp_path / "jobs-budget.sqlite"),
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DEFAULT", json.dumps(connection))
    monkeypatch.setitem(JobsBudget.__init__.__kwdefaults__, "clock", emulator.runtime.clock.now)
    monkeypatch.setitem(StitchHook.__init__.__kwdefaults__, "timeout", CLIENT_TIMEOUT)
    monkeypatch.setattr(client_base, "default_retry_wait", lambda: zero_wait)
    monkeypatch.setattr(StitchStartReplicationOperator, "sleep", staticmethod(scaled_sleep))
    forget_monitors()
    yield emulator
    forget_monitors()
    let_delayed_answers_finish(emulator)
